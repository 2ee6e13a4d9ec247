#pragma once
// The server's ZAP handler (ZeroMQ RFC 27). libzmq lets every CURVE client in when no
// handler is bound, so a CURVE server binds this one before it binds any endpoint:
// it allows exactly the client public keys found as *.pub files in the allow
// directory, re-read whenever the directory changes (key rotation without restarts).
#include <zmq.hpp>

#include <ctime>
#include <string>
#include <unordered_set>
#include <vector>

namespace zlb::server {

inline constexpr const char* kZapDomain = "zlb";

class ZapHandler {
public:
    // Binds inproc://zeromq.zap.01 in ctx. Throws std::runtime_error if the directory
    // can't be read.
    ZapHandler(zmq::context_t& ctx, std::string allow_dir);

    zmq::socket_t& socket() { return socket_; }
    // Answers every waiting ZAP request.
    void requests_handle();
    std::size_t keys_allowed() const { return allowed_.size(); }

private:
    void keys_reload_if_changed();
    bool allows(const zmq::message_t& domain, const zmq::message_t& mechanism,
                const zmq::message_t& key) const;

    zmq::socket_t socket_;
    std::string allow_dir_;
    std::unordered_set<std::string> allowed_; // raw 32-byte public keys
    timespec loaded_mtime_{};
    std::vector<zmq::message_t> frames_;
};

} // namespace zlb::server
