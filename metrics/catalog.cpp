#include "metrics/catalog.hpp"

#include <limits>
#include <stdexcept>

namespace zlb::metrics {

prometheus::ClientMetric metric_make(const Labels& labels) {
    prometheus::ClientMetric m;
    m.label.reserve(labels.size());
    for (const auto& [name, value] : labels) m.label.push_back({name, value});
    return m;
}

Catalog& Catalog::family_add(std::string name, std::string help, prometheus::MetricType type) {
    for (const auto& f : families_)
        if (f.head.name == name) throw std::logic_error("metric family " + name + " declared twice");
    Family f;
    f.head.name = std::move(name);
    f.head.help = std::move(help);
    f.head.type = type;
    families_.push_back(std::move(f));
    return *this;
}

Catalog& Catalog::counter(std::string name, std::string help) {
    return family_add(std::move(name), std::move(help), prometheus::MetricType::Counter);
}
Catalog& Catalog::gauge(std::string name, std::string help) {
    return family_add(std::move(name), std::move(help), prometheus::MetricType::Gauge);
}
Catalog& Catalog::histogram(std::string name, std::string help) {
    return family_add(std::move(name), std::move(help), prometheus::MetricType::Histogram);
}

Catalog& Catalog::sample(const Count& cell, Labels labels) {
    families_.back().samples.push_back({std::move(labels), &cell, nullptr, nullptr});
    return *this;
}
Catalog& Catalog::sample(const Level& cell, Labels labels) {
    families_.back().samples.push_back({std::move(labels), nullptr, &cell, nullptr});
    return *this;
}
Catalog& Catalog::sample(const DurationHistogram& cell, Labels labels) {
    families_.back().samples.push_back({std::move(labels), nullptr, nullptr, &cell});
    return *this;
}

void Catalog::hook_add(std::function<void(std::vector<prometheus::MetricFamily>&)> hook) {
    hooks_.push_back(std::move(hook));
}

std::vector<prometheus::MetricFamily> Catalog::Collect() const {
    std::vector<prometheus::MetricFamily> out;
    out.reserve(families_.size() + hooks_.size());
    for (const auto& f : families_) {
        prometheus::MetricFamily family = f.head;
        family.metric.reserve(f.samples.size());
        for (const auto& s : f.samples) {
            prometheus::ClientMetric m = metric_make(s.labels);
            if (s.count) {
                double v = static_cast<double>(s.count->value());
                if (f.head.type == prometheus::MetricType::Counter) m.counter.value = v;
                else m.gauge.value = v;
            } else if (s.level) {
                m.gauge.value = static_cast<double>(s.level->value());
            } else {
                std::uint64_t cumulative = 0;
                for (std::size_t i = 0; i <= kDurationBoundsUs.size(); ++i) {
                    cumulative += s.histogram->bucket(i);
                    double bound = i < kDurationBoundsUs.size()
                                       ? static_cast<double>(kDurationBoundsUs[i]) / 1e6
                                       : std::numeric_limits<double>::infinity();
                    m.histogram.bucket.push_back({cumulative, bound});
                }
                m.histogram.sample_count = cumulative;
                m.histogram.sample_sum = static_cast<double>(s.histogram->sum_us()) / 1e6;
            }
            family.metric.push_back(std::move(m));
        }
        out.push_back(std::move(family));
    }
    for (const auto& hook : hooks_) hook(out);
    return out;
}

} // namespace zlb::metrics
