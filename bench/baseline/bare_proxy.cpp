// zlb-bare-proxy: the physical floor of the broker scenario. A ROUTER frontend and a DEALER
// backend joined by zmq::proxy (libzmq's zmq_proxy): frames pass through untouched, no
// credit, no heartbeats, no decoding, one thread.
//
//   zlb-bare-proxy FRONTEND BACKEND
//
// Prints "backend listening" on stderr once both are bound; runs until killed.
#include <zmq.hpp>

#include <cstdio>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s FRONTEND BACKEND\n", argv[0]);
        return 2;
    }
    zmq::context_t ctx(1);
    zmq::socket_t front(ctx, zmq::socket_type::router), back(ctx, zmq::socket_type::dealer);
    for (auto* s : {&front, &back}) {
        s->set(zmq::sockopt::rcvhwm, 0);
        s->set(zmq::sockopt::sndhwm, 0);
    }
    front.bind(argv[1]);
    back.bind(argv[2]);
    std::fprintf(stderr, "backend listening on %s\n", argv[2]);
    zmq::proxy(front, back);
    return 0;
}
