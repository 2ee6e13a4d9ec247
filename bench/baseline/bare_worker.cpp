// zlb-bare-worker: the worker side of the broker floor. A DEALER connected to the bare
// proxy's backend that sends every frame straight back, keeping its more-flag: the
// [client id, "", payload] envelope the proxy adds returns unchanged.
//
//   zlb-bare-worker ENDPOINT
//
// Prints "connected to ENDPOINT" on stderr; runs until killed.
#include <zmq.hpp>

#include <cstdio>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s ENDPOINT\n", argv[0]);
        return 2;
    }
    zmq::context_t ctx(1);
    zmq::socket_t sock(ctx, zmq::socket_type::dealer);
    sock.set(zmq::sockopt::rcvhwm, 0);
    sock.set(zmq::sockopt::sndhwm, 0);
    sock.connect(argv[1]);
    std::fprintf(stderr, "connected to %s\n", argv[1]);
    zmq::message_t frame;
    for (;;) {
        if (!sock.recv(frame, zmq::recv_flags::none)) continue;
        const bool more = frame.more();
        sock.send(frame, more ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
}
