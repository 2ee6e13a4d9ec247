#pragma once
// The ZAP handler (ZeroMQ RFC 27) of every CURVE socket in a process. libzmq lets every
// CURVE peer in when no handler is bound, so a CURVE process binds this one before any
// endpoint, and each CURVE socket names its ZAP domain and enforces it: a peer is let
// in only when its public key is a *.pub file in that domain's allow directory. The
// broker has two domains (clients on the frontend, workers on the backend), so a worker
// key does not open the frontend, nor a client key the backend.
//
// Allow directories are watched with inotify: any file created, written, renamed or
// deleted in one (also a key overwritten in place) reloads it before the next
// handshake is judged, so keys are rotated and revoked without a restart.
#include "core/curve.hpp"
#include "core/unique_fd.hpp"

#include <zmq.hpp>

#include <map>
#include <string>
#include <unordered_set>
#include <vector>

namespace zlb {

// The domains zlb uses.
inline constexpr const char* kZapDomainServer = "zlb";          // a server's clients
inline constexpr const char* kZapDomainClients = "zlb-clients"; // a broker's frontend
inline constexpr const char* kZapDomainWorkers = "zlb-workers"; // a broker's backend

class ZapHandler {
public:
    // domain -> allow directory. Binds inproc://zeromq.zap.01 in ctx. Throws
    // std::runtime_error when a directory can't be read or watched.
    ZapHandler(zmq::context_t& ctx, std::map<std::string, std::string> allow_dirs);

    zmq::socket_t& socket() { return socket_; }
    // Answers every waiting ZAP request.
    void requests_handle();
    std::size_t keys_allowed(const std::string& domain) const;

private:
    struct Domain {
        std::string dir;
        int watch = -1; // inotify watch descriptor
        std::unordered_set<std::string> keys; // raw 32-byte public keys
    };
    void changes_read();
    void keys_load(Domain& d);
    bool allows(const zmq::message_t& domain, const zmq::message_t& mechanism,
                const zmq::message_t& key) const;

    zmq::socket_t socket_;
    UniqueFd inotify_;
    std::map<std::string, Domain, std::less<>> domains_;
    std::vector<zmq::message_t> frames_;
};

// Makes socket a CURVE server with keys whose peers ZAP judges in `domain`; call it
// before binding. Throws std::runtime_error when libzmq can't enforce the domain.
void curve_server_set(zmq::socket_t& socket, const CurveKeyPair& keys, const char* domain);
// Makes socket a CURVE client of the server with public key server_z85.
void curve_client_set(zmq::socket_t& socket, const CurveKeyPair& keys, const std::string& server_z85);

} // namespace zlb
