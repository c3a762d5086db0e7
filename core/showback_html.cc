#include "core/showback_html.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "core/money.h"
#include "core/time_format.h"

namespace agentbudget::core {
namespace {

constexpr int kChartWidth = 640;
constexpr int kChartHeight = 160;

std::string Escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
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
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Usd(int64_t micros) { return Money::FromMicros(micros).ToString(); }

// "$12.35" for reading; the exact amount is in the element's data-usd.
std::string Dollars(int64_t micros) { return "$" + Money::FromMicros(micros).ToFixed(2); }

// A y coordinate for `value` on a chart whose top is `top`.
int Y(int64_t value, int64_t top) {
  if (top <= 0) {
    return kChartHeight;
  }
  const Int128 scaled =
      static_cast<Int128>(std::max<int64_t>(value, 0)) * (kChartHeight - 10) / top;
  return kChartHeight - static_cast<int>(scaled);
}

std::string Svg(const std::string& label, const std::string& body) {
  return "<svg role=\"img\" aria-label=\"" + Escape(label) + "\" viewBox=\"0 0 " +
         std::to_string(kChartWidth) + " " + std::to_string(kChartHeight + 20) + "\" width=\"" +
         std::to_string(kChartWidth) + "\" height=\"" + std::to_string(kChartHeight + 20) + "\">" +
         body + "</svg>";
}

std::string Line(int x1, int y1, int x2, int y2, const std::string& css) {
  return "<line class=\"" + css + "\" x1=\"" + std::to_string(x1) + "\" y1=\"" +
         std::to_string(y1) + "\" x2=\"" + std::to_string(x2) + "\" y2=\"" + std::to_string(y2) +
         "\"/>";
}

std::string Text(int x, int y, const std::string& text, const std::string& css = "") {
  return "<text" + (css.empty() ? std::string() : " class=\"" + css + "\"") + " x=\"" +
         std::to_string(x) + "\" y=\"" + std::to_string(y) + "\">" + Escape(text) + "</text>";
}

std::string DailyChart(const Showback& report) {
  if (report.daily_micros.empty()) {
    return "<p>No spend in this period.</p>";
  }
  const int64_t top = *std::max_element(report.daily_micros.begin(), report.daily_micros.end());
  const int slots = static_cast<int>(std::max<size_t>(report.daily_micros.size(), 7));
  const int width = kChartWidth / slots;
  std::string body;
  const auto first_day = std::chrono::floor<std::chrono::days>(report.period.start);
  for (size_t day = 0; day < report.daily_micros.size(); ++day) {
    const int64_t value = report.daily_micros[day];
    const int y = Y(value, top);
    const std::string date = FormatRfc3339(first_day + std::chrono::days(day)).substr(0, 10);
    body += "<rect class=\"bar\" data-figure=\"daily\" data-day=\"" + date + "\" data-usd=\"" +
            Usd(value) + "\" x=\"" + std::to_string(static_cast<int>(day) * width + 1) + "\" y=\"" +
            std::to_string(y) + "\" width=\"" + std::to_string(std::max(width - 2, 1)) +
            "\" height=\"" + std::to_string(kChartHeight - y) + "\"><title>" + date + ": " +
            Dollars(value) + "</title></rect>";
  }
  body += Text(2, kChartHeight + 15, FormatRfc3339(first_day).substr(0, 10)) +
          Text(kChartWidth - 180, kChartHeight + 15, "largest day " + Dollars(top));
  return Svg("spend per day", body);
}

// Spend as it accrued (a polyline), the limit (a shared envelope's) and the forecast (a
// dashed line from the last step to the period's end).
std::string BudgetChart(const ShowbackBudget& budget, SysSeconds now) {
  if (budget.cumulative.empty()) {
    return "";
  }
  const bool per_key = !budget.per_key.empty();
  const bool bounded = budget.window.end != SysSeconds::max();
  int64_t top = std::max(budget.cumulative.back(), budget.forecast);
  if (!per_key) {
    top = std::max(top, budget.limit.amount);
  }
  // The x axis is the whole period when it ends, else the time so far.
  const double span = bounded
                          ? static_cast<double>((budget.window.end - budget.window.start).count())
                          : static_cast<double>((now - budget.window.start).count());
  const double elapsed =
      static_cast<double>((std::min(now, budget.window.end) - budget.window.start).count());
  const double step_width =
      span > 0 ? elapsed / span * kChartWidth / static_cast<double>(budget.cumulative.size()) : 0;
  std::string points = "0," + std::to_string(kChartHeight);
  for (size_t i = 0; i < budget.cumulative.size(); ++i) {
    points += " " + std::to_string(static_cast<int>(step_width * static_cast<double>(i + 1))) +
              "," + std::to_string(Y(budget.cumulative[i], top));
  }
  std::string body = "<polyline class=\"spent\" points=\"" + points + "\"/>";
  const int now_x = static_cast<int>(step_width * static_cast<double>(budget.cumulative.size()));
  const int now_y = Y(budget.cumulative.back(), top);
  if (!per_key) {
    const int y = Y(budget.limit.amount, top);
    body += Line(0, y, kChartWidth, y, "limit") +
            Text(4, y - 3, "limit " + budget.limit.Display(), "limit");
  }
  if (bounded) {
    const int y = Y(budget.forecast, top);
    body += Line(now_x, now_y, kChartWidth, y, "forecast") +
            Text(kChartWidth - 200, std::max(y - 3, 12),
                 "forecast " + budget.limit.Format(budget.forecast) + (per_key ? " (total)" : ""),
                 "forecast");
  }
  body +=
      Text(2, kChartHeight + 15, FormatRfc3339(budget.window.start)) +
      (bounded ? Text(kChartWidth - 150, kChartHeight + 15, FormatRfc3339(budget.window.end)) : "");
  return Svg("spend of budget " + budget.name + " against its limit and forecast", body);
}

std::string Figure(const std::string& name, const std::string& value, const std::string& shown) {
  return "<span class=\"figure\" data-figure=\"" + Escape(name) + "\" data-value=\"" +
         Escape(value) + "\">" + Escape(shown) + "</span>";
}

std::string Budgets(const Showback& report) {
  if (report.budgets.empty()) {
    return "";
  }
  std::string html = "<h2>Budgets</h2>";
  for (const ShowbackBudget& budget : report.budgets) {
    const bool per_key = !budget.per_key.empty();
    html +=
        "<section class=\"budget\" data-budget=\"" + Escape(budget.name) + "\"><h3>" +
        Escape(budget.name) + " <small>" + Escape(budget.pressure) + "</small></h3><p>" +
        (per_key ? "Limit per " + Escape(budget.per_key) + ": " : "Limit: ") +
        Figure("limit", budget.limit.Display(), budget.limit.Display()) + " · " +
        (per_key ? "Total spent (all " + std::to_string(budget.keys) + " keys): " : "Spent: ") +
        Figure("totalSpent", budget.limit.Format(budget.spent), budget.limit.Format(budget.spent)) +
        " · Used" + (per_key ? " (fullest key)" : "") + ": " +
        Figure("utilization", std::to_string(budget.utilization) + "%",
               std::to_string(budget.utilization) + "%") +
        " · Burn per hour: " +
        Figure("burnRatePerHour", budget.limit.Format(budget.burn_per_hour),
               budget.limit.Format(budget.burn_per_hour)) +
        " · Forecast" + (per_key ? " (total)" : "") + ": " +
        Figure("forecast", budget.limit.Format(budget.forecast),
               budget.limit.Format(budget.forecast)) +
        "</p>" + BudgetChart(budget, report.now);
    if (per_key) {
      html += "<p>Keys over each alert: ";
      for (const auto& [threshold, keys] : budget.keys_over_alert) {
        html += Figure("keysOver" + std::to_string(threshold), std::to_string(keys),
                       std::to_string(keys) + " at " + std::to_string(threshold) + "%") +
                " ";
      }
      html += "</p><table><tr><th>" + Escape(budget.per_key) +
              "</th><th>spent</th><th>of the limit</th></tr>";
      for (const auto& key : budget.top_keys) {
        html += "<tr data-key=\"" + Escape(key.key) + "\"><td>" + Escape(key.key) + "</td><td>" +
                budget.limit.Format(key.spent) + "</td><td>" + std::to_string(key.utilization) +
                "%</td></tr>";
      }
      html += "</table>";
    }
    html += "</section>";
  }
  return html;
}

std::string Breakdown(const std::string& title, const std::string& group,
                      const std::vector<ShowbackGroup>& groups, int64_t total) {
  std::string html = "<section class=\"breakdown\" data-breakdown=\"" + group + "\"><h3>" + title +
                     "</h3><table><tr><th>" + group +
                     "</th><th>spend</th><th>share</th><th></th><th>tokens</th><th>runs</th></tr>";
  // The largest group (an "other" group may pass the first) fills the bar.
  int64_t top = 0;
  for (const ShowbackGroup& item : groups) {
    top = std::max(top, item.spend_micros);
  }
  for (const ShowbackGroup& item : groups) {
    const std::string share = Share{item.spend_micros, total}.Percent().value_or("0.0");
    const int width =
        top > 0 ? static_cast<int>(static_cast<Int128>(std::max<int64_t>(item.spend_micros, 0)) *
                                   120 / top)
                : 0;
    html += "<tr data-name=\"" + Escape(item.name) + "\" data-usd=\"" + Usd(item.spend_micros) +
            "\"><td>" + Escape(item.name) + "</td><td>" + Dollars(item.spend_micros) + "</td><td>" +
            share +
            "%</td><td><svg width=\"122\" height=\"12\" aria-hidden=\"true\"><rect class=\"bar\" "
            "x=\"0\" y=\"1\" width=\"" +
            std::to_string(width) + "\" height=\"10\"/></svg></td><td>" +
            std::to_string(item.tokens) + "</td><td>" + std::to_string(item.runs) + "</td></tr>";
  }
  html += "<tr class=\"total\"><td>total</td><td>" + Dollars(total) +
          "</td><td>100.0%</td><td></td><td></td><td></td></tr>";
  return html + "</table></section>";
}

std::string Workloads(const Showback& report) {
  std::string html =
      "<h2>Runs</h2><p>Cost per successful run is a workload's whole spend of the month "
      "(failed runs and subagents included) over its runs that succeeded.</p><table><tr>"
      "<th>workload</th><th>spend</th><th>finished</th><th>succeeded</th><th>success rate</th>"
      "<th>cost per successful run</th><th>cost per merged PR</th><th>token yield</th></tr>";
  auto cell = [](const std::string& figure, const std::optional<std::string>& value,
                 const std::string& shown) {
    return "<td data-figure=\"" + figure + "\" data-value=\"" + value.value_or("") + "\">" +
           (value ? shown : std::string("–")) + "</td>";
  };
  auto money = [&](const std::string& figure, const std::optional<Money>& value) {
    return cell(figure, value ? std::optional(value->ToString()) : std::nullopt,
                value ? "$" + value->ToFixed(4) : "");
  };
  auto percent = [&](const std::string& figure, const Share& share) {
    const auto value = share.Percent();
    return cell(figure, value, value.value_or("") + "%");
  };
  for (const auto& [name, runs] : report.workloads) {
    html += "<tr data-workload=\"" + Escape(name) + "\"><td>" + Escape(name) + "</td>" +
            money("spend", Money::FromMicros(runs.spend_micros)) + "<td>" +
            std::to_string(runs.finished) + "</td><td>" + std::to_string(runs.succeeded) + "</td>" +
            percent("successRate", SuccessRate(runs)) +
            money("costPerSuccessfulRun", CostPerSuccessfulRun(runs)) +
            money("costPerMergedPr", CostPerMergedPr(runs)) +
            percent("tokenYield", TokenYield(runs)) + "</tr>";
  }
  return html + "</table>";
}

constexpr char kStyle[] =
    "body{font-family:system-ui,sans-serif;margin:2em;color:#1d2733;max-width:60em}"
    "h1{font-size:1.5em}h2{margin-top:1.6em;border-bottom:1px solid #ccd}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{padding:.2em .7em;text-align:right}"
    "td:first-child,th:first-child{text-align:left}tr.total td{font-weight:bold;border-top:1px "
    "solid #889}"
    ".figure{font-weight:bold}.bar{fill:#4a7bd0}.spent{fill:none;stroke:#4a7bd0;stroke-width:2}"
    "line.limit{stroke:#c0392b}line.forecast{stroke:#e67e22;stroke-dasharray:6 4}"
    "text{font-size:11px;fill:#556}text.limit{fill:#c0392b}text.forecast{fill:#e67e22}svg{display:block}"
    ".breakdown{display:inline-block;vertical-align:top;margin-right:2em}"
    ".budget{margin-bottom:1.5em}small{color:#778;font-weight:normal}";

}  // namespace

std::string ShowbackHtml(const Showback& report) {
  const std::string degraded =
      report.degraded ? report.degraded->Percent().value_or("") : std::string();
  std::string html =
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>agentbudget "
      "showback</title><style>" +
      std::string(kStyle) + "</style></head><body><h1>Showback " +
      FormatRfc3339(report.period.start).substr(0, 10) + " to " +
      FormatRfc3339(report.period.end).substr(0, 10) +
      "</h1><p>Total spend: <span class=\"figure\" "
      "data-figure=\"total\" data-usd=\"" +
      Usd(report.total_micros) + "\">" + Dollars(report.total_micros) + "</span> · tokens: " +
      Figure("tokens", std::to_string(report.tokens), std::to_string(report.tokens)) +
      " · runs: " + Figure("runs", std::to_string(report.runs), std::to_string(report.runs)) +
      " · degraded share: " +
      Figure("degradedShare", degraded, degraded.empty() ? "–" : degraded + "% of calls") +
      "</p><p><small>Read at " + FormatRfc3339(report.now) +
      ". Spend is the ledger's committed spend, the FOCUS export's BilledCost.</small></p>"
      "<h2>Spend per day</h2>" +
      DailyChart(report) + Budgets(report) + "<h2>Breakdowns</h2><div class=\"breakdowns\">" +
      Breakdown("By team", "team", report.by_team, report.total_micros) +
      Breakdown("By workflow", "workflow", report.by_workflow, report.total_micros) +
      Breakdown("By engineer", "engineer", report.by_engineer, report.total_micros) +
      Breakdown("By model", "model", report.by_model, report.total_micros) + "</div>" +
      Workloads(report) + "</body></html>\n";
  return html;
}

}  // namespace agentbudget::core
