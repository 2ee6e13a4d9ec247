#include "broker/status.hpp"

#include "proto/codec.hpp"

#include <zmq.hpp>

#include <iostream>

namespace zlb::broker {

int status_query(const std::string& endpoint) {
    zmq::context_t ctx(1);
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    s.connect(endpoint);
    msgpack::sbuffer buf;
    proto::encode_status_request(buf, 1);
    s.send(zmq::message_t(), zmq::send_flags::sndmore);
    s.send(zmq::buffer(buf.data(), buf.size()), zmq::send_flags::none);
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(5000)) == 0) {
        std::cerr << "zlb-broker: no status reply from " << endpoint << " within 5 s\n";
        return 1;
    }
    zmq::message_t delimiter, body;
    (void)s.recv(delimiter);
    (void)s.recv(body);
    // msgpack-c prints objects in JSON form.
    auto handle = msgpack::unpack(static_cast<const char*>(body.data()), body.size());
    std::cout << handle.get() << "\n";
    return 0;
}

} // namespace zlb::broker
