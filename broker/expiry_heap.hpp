#pragma once
// A min-heap of deadlines with lazy deletion and a bound. An entry whose request was
// answered or moved stays in the heap (finding it would cost a search) and is skipped
// when it comes up. Without a bound that is one entry per request for the whole
// timeout: at 200,000 req/s and the 60 s --worker-timeout-ms, 12 million entries
// (290 MB), from one client. So sweep() drops the stale entries once they outnumber the
// live ones: the caller passes how many can be live, and the heap holds at most twice
// that plus kSlack. A sweep costs O(size) and comes after at least size/2 pushes, so it
// is O(1) per push, amortised.
#include <algorithm>
#include <cstddef>
#include <functional>
#include <vector>

namespace zlb::broker {

template <class T> // T has a member `at`, the deadline
class ExpiryHeap {
public:
    static constexpr std::size_t kSlack = 1024;

    bool empty() const { return heap_.empty(); }
    std::size_t size() const { return heap_.size(); }
    const T& top() const { return heap_.front(); }
    void pop() {
        std::pop_heap(heap_.begin(), heap_.end(), later);
        heap_.pop_back();
    }
    // stale(entry): whether the entry no longer names a live deadline.
    template <class Stale> void push(T entry, std::size_t live_max, Stale&& stale) {
        heap_.push_back(std::move(entry));
        std::push_heap(heap_.begin(), heap_.end(), later);
        if (heap_.size() <= 2 * live_max + kSlack) return;
        std::erase_if(heap_, stale);
        std::make_heap(heap_.begin(), heap_.end(), later);
    }

private:
    static bool later(const T& a, const T& b) { return a.at > b.at; }
    std::vector<T> heap_;
};

} // namespace zlb::broker
