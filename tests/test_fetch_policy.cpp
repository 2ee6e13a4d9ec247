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
