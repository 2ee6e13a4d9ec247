// The fetch destination policy: default denials, extra CIDRs, allowed hosts.
#include "server/fetch_policy.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdexcept>

using zlb::server::FetchPolicy;
using zlb::server::parse_cidr;

namespace {

sockaddr_storage address(const char* text) {
    sockaddr_storage ss{};
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) v4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) v6->sin6_family = AF_INET6;
    else FAIL("bad test address ", text);
    return ss;
}

bool allowed(const FetchPolicy& p, const char* addr, const char* host = "example") {
    auto ss = address(addr);
    return p.allowed(reinterpret_cast<const sockaddr*>(&ss), host);
}

} // namespace

TEST_CASE("link-local and metadata addresses are refused by default") {
    FetchPolicy p;
    CHECK_FALSE(allowed(p, "169.254.169.254"));
    CHECK_FALSE(allowed(p, "169.254.0.1"));
    CHECK_FALSE(allowed(p, "fd00:ec2::254"));
    CHECK_FALSE(allowed(p, "fe80::1"));
    CHECK_FALSE(allowed(p, "::ffff:169.254.169.254")); // IPv4-mapped
    CHECK(allowed(p, "127.0.0.1"));
    CHECK(allowed(p, "169.255.0.1"));
    CHECK(allowed(p, "169.253.255.255"));
    CHECK(allowed(p, "::1"));
    CHECK(allowed(p, "fd00:ec2::253"));
}

TEST_CASE("extra CIDRs are refused, and allowed hosts are exempt") {
    FetchPolicy p({"10.0.0.0/8", "127.0.0.2/32", "2001:db8::/32"}, {"Metadata.Local"});
    CHECK_FALSE(allowed(p, "10.1.2.3"));
    CHECK_FALSE(allowed(p, "127.0.0.2"));
    CHECK(allowed(p, "127.0.0.3"));
    CHECK_FALSE(allowed(p, "2001:db8::1"));
    CHECK(allowed(p, "2001:db9::1"));
    CHECK(allowed(p, "169.254.169.254", "metadata.local"));
    CHECK_FALSE(allowed(p, "169.254.169.254", "metadata.local.evil"));
}

TEST_CASE("CIDR parsing") {
    CHECK(parse_cidr("10.0.0.0/8")->prefix == 8);
    CHECK(parse_cidr("10.0.0.1")->prefix == 32);
    CHECK(parse_cidr("::1")->prefix == 128);
    CHECK(parse_cidr("0.0.0.0/0")->prefix == 0);
    CHECK_FALSE(parse_cidr("10.0.0.0/33"));
    CHECK_FALSE(parse_cidr("10.0.0/8"));
    CHECK_FALSE(parse_cidr("10.0.0.0/x"));
    CHECK_FALSE(parse_cidr("::1/129"));
    CHECK_FALSE(parse_cidr(""));
    CHECK_THROWS_AS(FetchPolicy({"nope"}, {}), std::invalid_argument);
}

TEST_CASE("IPv4 carried in IPv6 is judged as that IPv4 address") {
    FetchPolicy p;
    CHECK_FALSE(allowed(p, "::ffff:169.254.169.254"));  // IPv4-mapped
    CHECK_FALSE(allowed(p, "::ffff:a9fe:a9fe"));        // the same, in hex
    CHECK_FALSE(allowed(p, "::a9fe:a9fe"));             // IPv4-compatible
    CHECK_FALSE(allowed(p, "::169.254.169.254"));       // the same, dotted
    CHECK_FALSE(allowed(p, "64:ff9b::a9fe:a9fe"));      // NAT64 well-known prefix
    CHECK_FALSE(allowed(p, "64:ff9b::169.254.169.254"));
    CHECK_FALSE(allowed(p, "2002:a9fe:a9fe::"));        // 6to4
    CHECK_FALSE(allowed(p, "2002:a9fe:a9fe:1234::5"));
    CHECK_FALSE(allowed(p, "2001:0:4136:e378:8000:63bf:5601:5601")); // Teredo: client ~169.254.169.254
    CHECK(allowed(p, "::ffff:8.8.8.8"));
    CHECK(allowed(p, "::808:808"));
    CHECK(allowed(p, "64:ff9b::808:808"));
    CHECK(allowed(p, "2002:808:808::"));
    CHECK(allowed(p, "2001:0:4136:e378:8000:63bf:f7f7:f7f7")); // Teredo client 8.8.8.8
    CHECK(allowed(p, "2003:a9fe:a9fe::"));       // not 6to4
    CHECK(allowed(p, "64:ff9a::a9fe:a9fe"));     // not NAT64
    CHECK(allowed(p, "::1"));                    // IPv6 loopback, not 0.0.0.1
}

TEST_CASE("embedded IPv4 under --deny-cidr") {
    FetchPolicy p({"10.0.0.0/8", "127.0.0.0/8"}, {});
    for (const char* a : {"10.1.2.3", "::ffff:10.1.2.3", "::a01:203", "64:ff9b::a01:203",
                          "2002:a01:203::1", "127.0.0.1", "::ffff:127.0.0.1", "::127.0.0.1",
                          "64:ff9b::7f00:1", "2002:7f00:1::"})
        CHECK_MESSAGE(!allowed(p, a), a);
    CHECK(allowed(p, "11.0.0.1"));
    CHECK(allowed(p, "::ffff:11.0.0.1"));
}

TEST_CASE("a CIDR on IPv4-mapped addresses applies to the mapped IPv4") {
    auto c = parse_cidr("::ffff:127.0.0.0/104");
    REQUIRE(c);
    CHECK(c->family == AF_INET);
    CHECK(c->prefix == 8);
    FetchPolicy p({"::ffff:127.0.0.0/104"}, {});
    CHECK_FALSE(allowed(p, "127.0.0.1"));
    CHECK_FALSE(allowed(p, "127.255.0.1"));
    CHECK_FALSE(allowed(p, "::ffff:127.0.0.1"));
    CHECK_FALSE(allowed(p, "64:ff9b::7f00:1"));
    CHECK(allowed(p, "128.0.0.1"));
    FetchPolicy whole({"::ffff:0:0/96"}, {});
    CHECK_FALSE(allowed(whole, "8.8.8.8"));
    CHECK_FALSE(allowed(whole, "::ffff:8.8.8.8"));
    CHECK(allowed(whole, "2001:db8::1"));
    // An IPv6 range that is not IPv4-mapped stays IPv6.
    FetchPolicy six({"2002::/16"}, {});
    CHECK_FALSE(allowed(six, "2002:808:808::"));
    CHECK(allowed(six, "8.8.8.8"));
}

TEST_CASE("unspecified addresses count as loopback") {
    FetchPolicy open;
    CHECK(allowed(open, "0.0.0.0")); // loopback is allowed by default, and so is this
    CHECK(allowed(open, "::"));
    FetchPolicy p({"127.0.0.0/8"}, {});
    CHECK_FALSE(allowed(p, "0.0.0.0"));
    CHECK_FALSE(allowed(p, "0.1.2.3"));
    CHECK_FALSE(allowed(p, "::"));
    CHECK_FALSE(allowed(p, "::ffff:0.0.0.0"));
    CHECK_FALSE(allowed(p, "64:ff9b::"));
    CHECK(allowed(p, "::1")); // only IPv4 loopback was denied
    FetchPolicy six({"::1/128"}, {});
    CHECK_FALSE(allowed(six, "::"));
    CHECK_FALSE(allowed(six, "0.0.0.0"));
    CHECK(allowed(six, "127.0.0.1"));
}

TEST_CASE("allowed hosts: addresses in any spelling, names without case or trailing dot") {
    FetchPolicy p({"127.0.0.0/8", "::1/128"}, {"::1"});
    CHECK(allowed(p, "::1", "[::1]"));
    CHECK(allowed(p, "::1", "::1"));
    CHECK(allowed(p, "::1", "[0:0::1]"));
    CHECK_FALSE(allowed(p, "::1", "[::2]"));
    CHECK_FALSE(allowed(p, "127.0.0.1", "127.0.0.1"));
    FetchPolicy b({"::1/128"}, {"[::1]"});
    CHECK(allowed(b, "::1", "[::1]"));
    CHECK(allowed(b, "::1", "::1"));
    CHECK(b.host_exempt("[0000:0000::0001]"));
    CHECK_FALSE(b.host_exempt("localhost"));
    FetchPolicy m({"127.0.0.0/8"}, {"127.0.0.1"});
    CHECK(m.host_exempt("[::ffff:127.0.0.1]")); // the same IPv4 address
    CHECK(m.host_exempt("127.0.0.1"));
    CHECK_FALSE(m.host_exempt("127.0.0.2"));
    FetchPolicy n({}, {"Metadata.Local."});
    CHECK(n.host_exempt("metadata.local"));
    CHECK(n.host_exempt("METADATA.LOCAL."));
    CHECK_FALSE(n.host_exempt("metadata.local.evil"));
    CHECK_FALSE(n.host_exempt(""));
}

TEST_CASE("--deny-private refuses loopback, private, shared, link-local, ULA and unspecified") {
    std::vector<std::string> cidrs(zlb::server::kPrivateCidrs.begin(),
                                   zlb::server::kPrivateCidrs.end());
    FetchPolicy p(cidrs, {});
    for (const char* a : {"127.0.0.1", "127.1.2.3", "10.0.0.1", "10.255.255.255", "172.16.0.1",
                          "172.31.255.255", "192.168.1.1", "100.64.0.1", "100.127.255.255",
                          "169.254.169.254", "0.0.0.0", "::", "::1", "fe80::1", "fc00::1",
                          "fd12:3456::1", "fec0::1", "::ffff:10.0.0.1", "::ffff:192.168.0.1",
                          "64:ff9b::a00:1", "2002:c0a8:101::", "::ffff:127.0.0.1",
                          "::ffff:0.0.0.0", "::7f00:1"})
        CHECK_MESSAGE(!allowed(p, a), a);
    for (const char* a : {"8.8.8.8", "172.32.0.1", "172.15.255.255", "100.128.0.1", "100.63.255.255",
                          "192.169.0.1", "11.0.0.1", "2001:4860:4860::8888", "fe00::1",
                          "::ffff:8.8.8.8", "64:ff9b::808:808"})
        CHECK_MESSAGE(allowed(p, a), a);
    FetchPolicy exempt(cidrs, {"::1", "127.0.0.1"});
    CHECK(allowed(exempt, "::1", "[::1]"));
    CHECK(allowed(exempt, "127.0.0.1", "127.0.0.1"));
    CHECK_FALSE(allowed(exempt, "127.0.0.1", "localhost"));
}

TEST_CASE("CIDR parsing edge cases") {
    CHECK_FALSE(parse_cidr("10.0.0.0/"));
    CHECK_FALSE(parse_cidr("10.0.0.0/-1"));
    CHECK_FALSE(parse_cidr("/8"));
    CHECK(parse_cidr("::ffff:0:0/95")->family == AF_INET6); // wider than the mapped range
    CHECK(parse_cidr("::ffff:10.0.0.1")->prefix == 32);
}
