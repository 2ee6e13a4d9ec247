#include "core/zap.hpp"

#include "core/log.hpp"
#include "core/zmq_util.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <sys/inotify.h>

namespace zlb {

ZapHandler::ZapHandler(zmq::context_t& ctx, std::map<std::string, std::string> allow_dirs)
    : socket_(ctx, zmq::socket_type::rep),
      inotify_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (!inotify_) throw std::runtime_error(std::string("inotify_init1: ") + std::strerror(errno));
    for (auto& [domain, dir] : allow_dirs) {
        Domain d;
        d.dir = dir;
        // Every way a file's content can change: written in place, moved in, created,
        // deleted, renamed away, permissions changed.
        d.watch = ::inotify_add_watch(inotify_.get(), dir.c_str(),
                                      IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM |
                                          IN_CREATE | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF);
        if (d.watch < 0)
            throw std::runtime_error("cannot watch allow directory " + dir + ": " + std::strerror(errno));
        keys_load(d);
        if (d.keys.empty()) LOG_WARN("no keys in %s: every peer will be refused", dir.c_str());
        domains_.emplace(domain, std::move(d));
    }
    socket_.set(zmq::sockopt::linger, 0);
    socket_.bind("inproc://zeromq.zap.01");
}

std::size_t ZapHandler::keys_allowed(const std::string& domain) const {
    auto it = domains_.find(domain);
    return it == domains_.end() ? 0 : it->second.keys.size();
}

void ZapHandler::keys_load(Domain& d) {
    d.keys.clear();
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(d.dir, ec)) {
        if (entry.path().extension() != ".pub") continue;
        try {
            d.keys.insert(curve_z85_decode(curve_public_read(entry.path())));
        } catch (const std::exception& e) {
            LOG_WARN("ignoring %s", e.what());
        }
    }
    if (ec) LOG_WARN("cannot read allow directory %s: %s", d.dir.c_str(), ec.message().c_str());
    LOG_INFO("ZAP: %zu keys allowed from %s", d.keys.size(), d.dir.c_str());
}

// Reloads each directory that changed since the last look. Cheap when nothing did: one
// non-blocking read of the inotify fd per handshake.
void ZapHandler::changes_read() {
    alignas(inotify_event) char buf[4096];
    std::unordered_set<int> changed;
    for (;;) {
        ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t at = 0; at < n;) {
            const auto* e = reinterpret_cast<const inotify_event*>(buf + at);
            changed.insert(e->wd);
            at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
        }
    }
    for (auto& [name, d] : domains_)
        if (changed.count(d.watch) || changed.count(-1)) keys_load(d); // wd -1: queue overflow
}

// Request: [version, request id, domain, address, identity, mechanism, credentials...].
// Reply: [version, request id, status code, status text, user id, metadata].
void ZapHandler::requests_handle() {
    while (recv_frames(socket_, frames_)) {
        bool well_formed = frames_.size() >= 7 && view(frames_[0]) == "1.0";
        if (well_formed) changes_read();
        bool ok = well_formed && allows(frames_[2], frames_[5], frames_[6]);
        if (!ok)
            LOG_WARN("ZAP: refused a peer from %s in domain %s",
                     frames_.size() > 3 ? std::string(view(frames_[3])).c_str() : "?",
                     frames_.size() > 2 ? std::string(view(frames_[2])).c_str() : "?");
        socket_.send(zmq::buffer(std::string_view("1.0")), zmq::send_flags::sndmore);
        if (frames_.size() > 1) socket_.send(frames_[1], zmq::send_flags::sndmore);
        else socket_.send(zmq::message_t(), zmq::send_flags::sndmore);
        socket_.send(zmq::buffer(std::string_view(ok ? "200" : "400")), zmq::send_flags::sndmore);
        socket_.send(zmq::buffer(std::string_view(ok ? "OK" : "key not allowed")), zmq::send_flags::sndmore);
        socket_.send(zmq::message_t(), zmq::send_flags::sndmore);
        socket_.send(zmq::message_t(), zmq::send_flags::none);
    }
}

bool ZapHandler::allows(const zmq::message_t& domain, const zmq::message_t& mechanism,
                        const zmq::message_t& key) const {
    auto it = domains_.find(view(domain));
    return it != domains_.end() && view(mechanism) == "CURVE" &&
           it->second.keys.count(std::string(view(key))) != 0;
}

void curve_server_set(zmq::socket_t& socket, const CurveKeyPair& keys, const char* domain) {
    socket.set(zmq::sockopt::curve_server, true);
    socket.set(zmq::sockopt::curve_secretkey, keys.secret_z85);
    socket.set(zmq::sockopt::zap_domain, domain);
    constexpr int kZapEnforceDomain = 93; // ZMQ_ZAP_ENFORCE_DOMAIN, a draft name in 4.3
    int on = 1;
    if (zmq_setsockopt(socket.handle(), kZapEnforceDomain, &on, sizeof on) != 0)
        throw std::runtime_error("this libzmq cannot enforce the ZAP domain");
}

void curve_client_set(zmq::socket_t& socket, const CurveKeyPair& keys, const std::string& server_z85) {
    socket.set(zmq::sockopt::curve_serverkey, server_z85);
    socket.set(zmq::sockopt::curve_publickey, keys.public_z85);
    socket.set(zmq::sockopt::curve_secretkey, keys.secret_z85);
}

} // namespace zlb
