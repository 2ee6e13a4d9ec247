#include "broker/status.hpp"

#include "core/zmq_util.hpp"
#include "proto/codec.hpp"
#include "proto/msgpack_view.hpp"

#include <zmq.hpp>

#include <iostream>

namespace zlb::broker {
namespace {

// The answer must be a status reply: [""] [one msgpack map with ok = true]. Whatever
// else arrives (a fake broker, a garbled frame) is described, never trusted.
const char* reply_check(std::vector<zmq::message_t>& frames, msgpack::zone& zone,
                        msgpack::object& root) {
    if (frames.size() != 2 || frames[0].size() != 0)
        return "a reply that is not [empty delimiter, body] frames";
    if (proto::detail::parse_root(zone, view(frames[1]), root)) return "a reply that is not msgpack";
    if (root.type != msgpack::type::MAP) return "a reply that is not a msgpack map";
    const msgpack::object* ok = proto::detail::find(root.via.map, "ok");
    if (!ok) return "a reply without ok";
    return ok->type == msgpack::type::BOOLEAN && ok->via.boolean ? nullptr : "an error reply";
}

} // namespace

int status_query(const std::string& endpoint, std::chrono::milliseconds max_wait) {
    zmq::context_t ctx(1);
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::maxmsgsize, int64_t{16} << 20); // a worker table, not a flood
    try {
        s.connect(endpoint);
    } catch (const zmq::error_t& e) {
        std::cerr << "zlb-broker: cannot connect to " << endpoint << ": " << e.what() << "\n";
        return 2;
    }
    msgpack::sbuffer buf;
    proto::encode_status_request(buf, 1);
    s.send(zmq::message_t(), zmq::send_flags::sndmore);
    s.send(zmq::buffer(buf.data(), buf.size()), zmq::send_flags::none);
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, max_wait) == 0) {
        std::cerr << "zlb-broker: no status reply from " << endpoint << " within "
                  << max_wait.count() << " ms\n";
        return 1;
    }
    std::vector<zmq::message_t> frames;
    if (!recv_frames(s, frames)) frames.clear(); // nothing read: reply_check refuses it
    msgpack::zone zone;
    msgpack::object root;
    if (const char* what = reply_check(frames, zone, root)) {
        std::cerr << "zlb-broker: " << endpoint << " sent " << what << "\n";
        return 1;
    }
    std::cout << root << "\n"; // msgpack-c prints objects in JSON form
    return 0;
}

} // namespace zlb::broker
