#pragma once
// Endpoints are checked before anything binds or connects, by every program alike: a
// port outside 1..65535 would otherwise wrap (99999 is 34463), and a malformed name
// would fail later with a puzzling libzmq error ("No such device").
#include <string_view>

namespace zlb {

// Throws std::invalid_argument naming the endpoint when it is not tcp://HOST:PORT
// (PORT 1..65535; HOST a name, an IPv4 address or [IPv6]), ipc://PATH or inproc://NAME.
// With bind, HOST may also be * and PORT * (any free port), as zmq_bind takes them.
void endpoint_check(std::string_view endpoint, bool bind = false);
// A port number 1..65535 written in decimal digits alone.
bool port_parse(std::string_view text, unsigned& port);

} // namespace zlb
