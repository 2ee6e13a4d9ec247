#pragma once
// Which workers failed which client request, so that a client's resend of the same
// request (same client connection, same id) does not go back to a worker that already
// held it too long or died with it. ipyparallel keeps such a per-task blacklist.
// Bounded: at most `capacity` requests and kMaxPerRequest workers each; the oldest
// request is forgotten first.
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace zlb::broker {

class FailureMemory {
public:
    static constexpr std::size_t kMaxPerRequest = 8;

    explicit FailureMemory(std::size_t capacity) : capacity_(capacity) {}

    void note(const std::string& request, const std::string& worker) {
        auto [it, fresh] = failed_.try_emplace(request);
        if (fresh) {
            order_.push_back(request);
            if (order_.size() > capacity_) {
                failed_.erase(order_.front());
                order_.pop_front();
            }
        }
        auto& workers = it->second;
        if (workers.size() < kMaxPerRequest) workers.push_back(worker);
    }
    bool empty() const { return failed_.empty(); }
    // The workers that failed this request before; nullptr for none.
    const std::vector<std::string>* find(const std::string& request) const {
        auto it = failed_.find(request);
        return it == failed_.end() ? nullptr : &it->second;
    }

private:
    std::size_t capacity_;
    std::unordered_map<std::string, std::vector<std::string>> failed_;
    std::deque<std::string> order_;
};

} // namespace zlb::broker
