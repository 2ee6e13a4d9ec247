#include "server/zap.hpp"

#include "core/curve.hpp"
#include "core/log.hpp"
#include "core/zmq_util.hpp"

#include <filesystem>
#include <stdexcept>
#include <sys/stat.h>

namespace zlb::server {
namespace {

timespec mtime_of(const std::string& dir) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) throw std::runtime_error("cannot read --curve-allow " + dir);
    return st.st_mtim;
}

} // namespace

ZapHandler::ZapHandler(zmq::context_t& ctx, std::string allow_dir)
    : socket_(ctx, zmq::socket_type::rep), allow_dir_(std::move(allow_dir)) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.bind("inproc://zeromq.zap.01");
    keys_reload_if_changed();
    if (allowed_.empty()) LOG_WARN("no client keys in %s: every client will be refused", allow_dir_.c_str());
}

void ZapHandler::keys_reload_if_changed() {
    timespec now = mtime_of(allow_dir_);
    if (now.tv_sec == loaded_mtime_.tv_sec && now.tv_nsec == loaded_mtime_.tv_nsec) return;
    loaded_mtime_ = now;
    allowed_.clear();
    for (const auto& entry : std::filesystem::directory_iterator(allow_dir_)) {
        if (entry.path().extension() != ".pub") continue;
        try {
            allowed_.insert(curve_z85_decode(curve_public_read(entry.path())));
        } catch (const std::exception& e) {
            LOG_WARN("ignoring %s", e.what());
        }
    }
    LOG_INFO("ZAP: %zu client keys allowed from %s", allowed_.size(), allow_dir_.c_str());
}

bool ZapHandler::allows(const zmq::message_t& domain, const zmq::message_t& mechanism,
                        const zmq::message_t& key) const {
    return view(domain) == kZapDomain && view(mechanism) == "CURVE" &&
           allowed_.count(std::string(view(key))) != 0;
}

// Request: [version, request id, domain, address, identity, mechanism, credentials...].
// Reply: [version, request id, status code, status text, user id, metadata].
void ZapHandler::requests_handle() {
    while (recv_frames(socket_, frames_)) {
        bool well_formed = frames_.size() >= 7 && view(frames_[0]) == "1.0";
        if (well_formed) keys_reload_if_changed();
        bool ok = well_formed && allows(frames_[2], frames_[5], frames_[6]);
        if (!ok) LOG_WARN("ZAP: refused a client from %s", frames_.size() > 3 ? std::string(view(frames_[3])).c_str() : "?");
        socket_.send(zmq::buffer(std::string_view("1.0")), zmq::send_flags::sndmore);
        if (frames_.size() > 1) socket_.send(frames_[1], zmq::send_flags::sndmore);
        else socket_.send(zmq::message_t(), zmq::send_flags::sndmore);
        socket_.send(zmq::buffer(std::string_view(ok ? "200" : "400")), zmq::send_flags::sndmore);
        socket_.send(zmq::buffer(std::string_view(ok ? "OK" : "key not allowed")), zmq::send_flags::sndmore);
        socket_.send(zmq::message_t(), zmq::send_flags::sndmore);
        socket_.send(zmq::message_t(), zmq::send_flags::none);
    }
}

} // namespace zlb::server
