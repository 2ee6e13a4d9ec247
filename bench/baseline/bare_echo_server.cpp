// zlb-bare-echo-server: the physical floor of scenario 1. A ROUTER socket that sends every
// message straight back, frames untouched: no decoding, no bookkeeping, one thread.
//
//   zlb-bare-echo-server ENDPOINT [REPLY_BYTES]
//
// With REPLY_BYTES, each body is answered with a new message of that many bytes that starts
// with the body's first 16 (the client's send time and sequence number): the floor at zlb's
// own message sizes, where a reply is built, not sent back, and both directions are past
// libzmq's 33-byte inline message size.
//
// Prints "listening on ENDPOINT" on stderr once bound; runs until killed.
#include <zmq.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
    if (argc != 2 && argc != 3) {
        std::fprintf(stderr, "usage: %s ENDPOINT [REPLY_BYTES>=16]\n", argv[0]);
        return 2;
    }
    const std::size_t reply_bytes = argc == 3 ? std::strtoul(argv[2], nullptr, 10) : 0;
    if (argc == 3 && reply_bytes < 16) {
        std::fprintf(stderr, "%s: REPLY_BYTES must be at least 16\n", argv[0]);
        return 2;
    }
    zmq::context_t ctx(1);
    zmq::socket_t sock(ctx, zmq::socket_type::router);
    sock.set(zmq::sockopt::rcvhwm, 0);
    sock.set(zmq::sockopt::sndhwm, 0);
    sock.bind(argv[1]);
    std::fprintf(stderr, "listening on %s\n", argv[1]);
    // Forward each frame as it arrives, keeping its more-flag: [routing id, "", payload] goes
    // back to the sender unchanged (or with the payload replaced, given REPLY_BYTES).
    zmq::message_t frame;
    for (;;) {
        if (!sock.recv(frame, zmq::recv_flags::none)) continue;
        const bool more = frame.more();
        if (reply_bytes && !more) {
            zmq::message_t reply(reply_bytes);
            std::memset(reply.data(), 'x', reply_bytes);
            std::memcpy(reply.data(), frame.data(), std::min<std::size_t>(16, frame.size()));
            sock.send(reply, zmq::send_flags::none);
            continue;
        }
        sock.send(frame, more ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
}
