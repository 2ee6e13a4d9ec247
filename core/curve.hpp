#pragma once
// CurveZMQ key files. `NAME.key` holds both keys (mode 0600); `NAME.pub` holds the
// public key alone and is what gets handed out: a server's to its clients, a client's
// to the servers' allow directory. Keys are Z85 text, 40 characters.
#include <string>

namespace zlb {

struct CurveKeyPair {
    std::string public_z85;
    std::string secret_z85;
};

// Throws std::runtime_error when libzmq was built without CURVE.
CurveKeyPair curve_keypair_generate();
// Writes PREFIX.key (created 0600) and PREFIX.pub; existing files are an error unless
// `replace`. Throws std::runtime_error on failure.
void curve_keypair_write(const std::string& prefix, const CurveKeyPair& keys, bool replace);
// Reads a .key file. Throws std::runtime_error naming the file, and the line when one
// is malformed, when it is unusable.
CurveKeyPair curve_secret_read(const std::string& path);
// Reads the public key from a .pub file (or a .key file). Throws like curve_secret_read.
std::string curve_public_read(const std::string& path);
// The 32 raw bytes of a Z85 key; empty when z85 is not a valid 40-character key.
std::string curve_z85_decode(const std::string& z85);

} // namespace zlb
