#include "report/plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

namespace zlb::report {
namespace {

constexpr double kWidth = 960, kHeight = 900;
constexpr double kLeft = 90, kRight = 870; // both panels; room for a right-hand axis
constexpr int kSamples = 240;              // points per percentile curve
constexpr std::size_t kNamedServers = 8;   // more servers are drawn grey, unnamed
constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                    "#9467bd", "#8c564b", "#e377c2", "#17becf"};
constexpr const char* kGreyStyle = "stroke=\"#bbb\" stroke-width=\"1\"";
constexpr const char* kRpsColor = "#1f77b4";
constexpr const char* kP99Color = "#d62728";

struct Panel {
    double top, bottom;
};
constexpr Panel kCurvePanel{80, 430};
constexpr Panel kTimePanel{540, 830};

std::string fmt(const char* format, double a, double b = 0, double c = 0, double d = 0) {
    char buf[160];
    std::snprintf(buf, sizeof buf, format, a, b, c, d);
    return buf;
}

std::string xml_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        default:
            // XML 1.0 allows no control characters but these three.
            bool control = static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n';
            out += control ? '?' : c;
        }
    }
    return out;
}

// A round step (1, 2 or 5 times a power of ten) giving about `ticks` ticks up to max.
double nice_step(double max, int ticks) {
    if (!(max > 0)) return 1;
    const double raw = max / ticks;
    const double power = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 5.0})
        if (raw <= m * power) return m * power;
    return 10 * power;
}

// The axis top: max rounded up to a whole step, never 0 so nothing divides by it.
double nice_top(double max, double step) {
    return std::max(step, std::ceil(max / step - 1e-9) * step);
}

void text(std::ostream& out, double x, double y, std::string_view s, const char* anchor = "middle",
          const char* extra = "") {
    out << fmt("<text x=\"%.1f\" y=\"%.1f\"", x, y) << " text-anchor=\"" << anchor << "\" " << extra
        << ">" << xml_escape(s) << "</text>\n";
}

void line(std::ostream& out, double x1, double y1, double x2, double y2, const char* style) {
    out << fmt("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"", x1, y1, x2, y2) << " "
        << style << "/>\n";
}

void polyline(std::ostream& out, const std::vector<std::pair<double, double>>& points,
              const std::string& style) {
    if (points.empty()) return;
    out << "<polyline fill=\"none\" " << style << " points=\"";
    for (const auto& [x, y] : points)
        out << fmt("%.1f,%.1f ", x, y);
    out << "\"/>\n";
}

void frame(std::ostream& out, const Panel& p) {
    out << fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"", kLeft, p.top,
               kRight - kLeft, p.bottom - p.top)
        << " fill=\"none\" stroke=\"#333\"/>\n";
}

// Horizontal grid lines and labels for a linear axis from 0 to top, on the left or right.
void y_axis(std::ostream& out, const Panel& p, double top, double step, bool right,
            const char* color = "#000") {
    const std::string fill = std::string("fill=\"") + color + "\"";
    for (double v = 0; v <= top + step / 2; v += step) {
        const double y = p.bottom - (p.bottom - p.top) * v / top;
        if (!right) line(out, kLeft, y, kRight, y, "stroke=\"#ddd\"");
        const std::string label = fmt("%g", v);
        if (right)
            text(out, kRight + 6, y + 4, label, "start", fill.c_str());
        else
            text(out, kLeft - 6, y + 4, label, "end", fill.c_str());
    }
}

void y_title(std::ostream& out, const Panel& p, std::string_view title, bool right,
             const char* color) {
    const double x = right ? kWidth - 22 : 24, y = (p.top + p.bottom) / 2;
    std::string attrs = fmt("transform=\"rotate(%.0f %.1f %.1f)\"", right ? 90 : -90, x, y);
    attrs += std::string(" fill=\"") + color + "\"";
    text(out, x, y, title, "middle", attrs.c_str());
}

// The tick d decades out: 0%, 90%, 99%, 99.9%, ...
std::string percent_label(int decades) {
    if (decades == 0) return "0%";
    if (decades == 1) return "90%";
    return "99" + (decades > 2 ? "." + std::string(decades - 2, '9') : std::string()) + "%";
}

// At most max bytes, never cutting a UTF-8 sequence in two (that would not be XML).
std::string truncated(const std::string& s, std::size_t max) {
    if (s.size() <= max) return s;
    while (max > 0 && (static_cast<unsigned char>(s[max]) & 0xC0) == 0x80)
        --max;
    return s.substr(0, max);
}

// Top left, where percentile curves (low at the left) leave room.
void legend_draw(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& entries,
                 double x, double y) {
    out << fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"310\" height=\"%.1f\"", x, y,
               10 + 18.0 * entries.size())
        << " fill=\"#fff\" fill-opacity=\"0.9\" stroke=\"#999\"/>\n";
    y += 14;
    for (const auto& [name, style] : entries) {
        line(out, x + 10, y, x + 40, y, style.c_str());
        text(out, x + 48, y + 4, truncated(name, 40), "start");
        y += 18;
    }
}

void curves_draw(std::ostream& out, const PlotInput& in) {
    const Panel& p = kCurvePanel;
    std::uint64_t count = 0;
    for (const auto& c : in.curves)
        count = std::max(count, c.hist->count());
    // Beyond 1/count the curve is flat at the maximum: show one decade of it at most.
    const int decades = std::clamp(int(std::ceil(std::log10(std::max<double>(count, 10)))), 2, 6);
    std::vector<double> pcts;
    for (int k = 0; k <= kSamples; ++k)
        pcts.push_back(100 * (1 - std::pow(10.0, -decades * double(k) / kSamples)));
    std::vector<std::vector<std::uint64_t>> values;
    double max_ms = 0;
    for (const auto& c : in.curves) {
        values.push_back(percentile_curve(*c.hist, pcts));
        max_ms = std::max(max_ms, double(values.back().back()) / 1000);
    }
    const double step = nice_step(max_ms, 6), top = nice_top(max_ms, step);
    frame(out, p);
    y_axis(out, p, top, step, false);
    y_title(out, p, "latency (ms)", false, "#000");
    for (int d = 0; d <= decades; ++d) {
        const double x = kLeft + (kRight - kLeft) * d / decades;
        line(out, x, p.top, x, p.bottom, "stroke=\"#ddd\"");
        text(out, x, p.bottom + 18, percent_label(d));
    }
    text(out, (kLeft + kRight) / 2, p.bottom + 40, "percentile (log scale in 1/(1-p))");
    text(out, kLeft, p.top - 12,
         in.open_loop ? "Latency by percentile, from each request's scheduled time"
                      : "Latency by percentile",
         "start", "font-weight=\"bold\"");

    std::vector<std::string> styles;
    std::vector<std::pair<std::string, std::string>> legend; // (name, stroke style)
    std::size_t servers_named = 0, servers_grey = 0;
    for (std::size_t i = 0; i < in.curves.size(); ++i) {
        const auto& c = in.curves[i];
        std::string style = kGreyStyle;
        if (i == 0 || c.dashed) {
            style = "stroke=\"#000\" stroke-width=\"2.5\"";
            if (c.dashed) style += " stroke-dasharray=\"7,5\"";
        } else if (servers_named < kNamedServers) {
            style =
                std::string("stroke=\"") + kPalette[servers_named++] + "\" stroke-width=\"1.5\"";
        } else {
            ++servers_grey;
        }
        styles.push_back(style);
        if (style != kGreyStyle) legend.emplace_back(c.name, style);
    }
    if (servers_grey)
        legend.emplace_back("+" + std::to_string(servers_grey) + " more servers", kGreyStyle);
    // Last first, so the overall curve ends up on top of the servers'.
    for (std::size_t i = in.curves.size(); i-- > 0;) {
        std::vector<std::pair<double, double>> points;
        for (int k = 0; k <= kSamples; ++k) {
            const double x = kLeft + (kRight - kLeft) * k / kSamples;
            const double y = p.bottom - (p.bottom - p.top) * (double(values[i][k]) / 1000) / top;
            points.emplace_back(x, y);
        }
        polyline(out, points, styles[i]);
    }
    legend_draw(out, legend, kLeft + 10, p.top + 6);
}

void series_draw(std::ostream& out, const PlotInput& in) {
    const Panel& p = kTimePanel;
    frame(out, p);
    text(out, kLeft, p.top - 12, "Throughput and p99 latency over time", "start",
         "font-weight=\"bold\"");
    text(out, (kLeft + kRight) / 2, p.bottom + 40, "time since start (s)");
    if (!in.intervals || in.intervals->empty()) {
        text(out, (kLeft + kRight) / 2, (p.top + p.bottom) / 2, "no intervals recorded");
        return;
    }
    const auto& rows = *in.intervals;
    double t_max = 0, rps_max = 0, p99_max = 0;
    for (const auto& r : rows) {
        t_max = std::max(t_max, r.t_s);
        rps_max = std::max(rps_max, r.rps);
        p99_max = std::max(p99_max, double(r.p99_us) / 1000);
    }
    const double t_step = nice_step(t_max, 10), t_top = nice_top(t_max, t_step);
    const double r_step = nice_step(rps_max, 5), r_top = nice_top(rps_max, r_step);
    const double l_step = nice_step(p99_max, 5), l_top = nice_top(p99_max, l_step);
    auto x_of = [&](double t) { return kLeft + (kRight - kLeft) * t / t_top; };
    auto y_of = [&](double v, double top) { return p.bottom - (p.bottom - p.top) * v / top; };
    if (in.warmup_s > 0) {
        const double x1 = x_of(std::min(in.warmup_s, t_top));
        out << fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"", kLeft, p.top,
                   x1 - kLeft, p.bottom - p.top)
            << " fill=\"#eee\"/>\n";
        text(out, (kLeft + x1) / 2, p.top + 16, "warm-up", "middle", "fill=\"#777\"");
    }
    for (double t = 0; t <= t_top + t_step / 2; t += t_step) {
        line(out, x_of(t), p.top, x_of(t), p.bottom, "stroke=\"#ddd\"");
        text(out, x_of(t), p.bottom + 18, fmt("%g", t));
    }
    y_axis(out, p, r_top, r_step, false, kRpsColor);
    y_axis(out, p, l_top, l_step, true, kP99Color);
    y_title(out, p, "throughput (req/s)", false, kRpsColor);
    y_title(out, p, "p99 latency (ms)", true, kP99Color);
    frame(out, p);
    // Steps: each value holds for its whole interval. An interval in which nothing ended
    // has no p99, so that line breaks there instead of dropping to 0.
    const std::string rps_style = std::string("stroke=\"") + kRpsColor + "\" stroke-width=\"2\"";
    const std::string p99_style = std::string("stroke=\"") + kP99Color + "\" stroke-width=\"2\"";
    std::vector<std::pair<double, double>> rps, p99;
    for (const auto& r : rows) {
        const double x0 = x_of(r.t_s - r.length_s), x1 = x_of(r.t_s);
        rps.emplace_back(x0, y_of(r.rps, r_top));
        rps.emplace_back(x1, y_of(r.rps, r_top));
        if (r.p99_us == 0) {
            polyline(out, p99, p99_style);
            p99.clear();
            continue;
        }
        p99.emplace_back(x0, y_of(double(r.p99_us) / 1000, l_top));
        p99.emplace_back(x1, y_of(double(r.p99_us) / 1000, l_top));
    }
    polyline(out, rps, rps_style);
    polyline(out, p99, p99_style);
    const double ly = p.top + 20, lx = kRight - 200;
    out << fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"190\" height=\"48\"", lx - 10, ly - 14)
        << " fill=\"#fff\" fill-opacity=\"0.9\" stroke=\"#999\"/>\n";
    line(out, lx, ly, lx + 30, ly, rps_style.c_str());
    text(out, lx + 38, ly + 4, "throughput (left)", "start");
    line(out, lx, ly + 20, lx + 30, ly + 20, p99_style.c_str());
    text(out, lx + 38, ly + 24, "p99 latency (right)", "start");
}

} // namespace

std::vector<std::uint64_t> percentile_curve(const Histogram& h, const std::vector<double>& pcts) {
    std::vector<std::uint64_t> out(pcts.size(), 0);
    if (h.count() == 0) return out;
    std::size_t k = 0;
    for (; k < pcts.size() && !(pcts[k] > 0); ++k)
        out[k] = h.min();
    // The same rank rule as Histogram::percentile, so both agree on every point.
    auto rank_of = [&](double p) {
        const double rank = std::ceil(p / 100.0 * double(h.count()) * (1 - 1e-12));
        return std::clamp<std::uint64_t>(std::uint64_t(rank), 1, h.count());
    };
    std::uint64_t seen = 0;
    h.for_each_bucket([&](std::uint64_t value, std::uint64_t n) {
        seen += n;
        while (k < pcts.size() && pcts[k] < 100 && rank_of(pcts[k]) <= seen)
            out[k++] = std::clamp(value, h.min(), h.max());
    });
    for (; k < pcts.size(); ++k)
        out[k] = h.max();
    return out;
}

void svg_write(std::ostream& out, const PlotInput& in) {
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        << fmt("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\"",
               kWidth, kHeight, kWidth, kHeight)
        << " font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"13\">\n"
        << "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n";
    text(out, kWidth / 2, 34, in.title, "middle", "font-size=\"18\" font-weight=\"bold\"");
    if (!in.curves.empty()) curves_draw(out, in);
    series_draw(out, in);
    out << "</svg>\n";
}

} // namespace zlb::report
