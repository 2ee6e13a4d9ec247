// zlb-bare-echo-server: the physical floor of scenario 1. A ROUTER socket that sends every
// message straight back, frames untouched: no decoding, no bookkeeping, one thread.
//
//   zlb-bare-echo-server ENDPOINT
//
// Prints "listening on ENDPOINT" on stderr once bound; runs until killed.
#include <zmq.hpp>

#include <cstdio>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s ENDPOINT\n", argv[0]);
        return 2;
    }
    zmq::context_t ctx(1);
    zmq::socket_t sock(ctx, zmq::socket_type::router);
    sock.set(zmq::sockopt::rcvhwm, 0);
    sock.set(zmq::sockopt::sndhwm, 0);
    sock.bind(argv[1]);
    std::fprintf(stderr, "listening on %s\n", argv[1]);
    // Forward each frame as it arrives, keeping its more-flag: [routing id, "", payload] goes
    // back to the sender unchanged.
    zmq::message_t frame;
    for (;;) {
        if (!sock.recv(frame, zmq::recv_flags::none)) continue;
        const bool more = frame.more();
        sock.send(frame, more ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
}
