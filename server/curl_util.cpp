#include "server/curl_util.hpp"

#include <stdexcept>

namespace zlb {

CurlGlobal::CurlGlobal() {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        throw std::runtime_error("curl_global_init failed");
}

CurlGlobal::~CurlGlobal() { curl_global_cleanup(); }

CurlEasy make_curl_easy() {
    CurlEasy h(curl_easy_init());
    if (!h) throw std::runtime_error("curl_easy_init failed");
    return h;
}

CurlMulti make_curl_multi() {
    CurlMulti h(curl_multi_init());
    if (!h) throw std::runtime_error("curl_multi_init failed");
    return h;
}

} // namespace zlb
