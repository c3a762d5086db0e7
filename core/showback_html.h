#pragma once

#include <string>

#include "core/showback.h"

namespace agentbudget::core {

// The showback report as one self-contained HTML page (docs/authority.md, "Showback"):
// inline CSS and SVG charts, no script and no external resource, so it opens from a file
// or a mail attachment alike. Shows the period's total, spend per day, each budget's
// spend as it accrued against its limit and forecast (perKey budgets: the limit per key,
// the top keys and the keys over each alert, the total labelled as a total), spend by
// team, workflow, engineer and model, each workload's cost per successful run, and the
// degraded share. Every figure is also in a data- attribute of its element, exactly as
// ShowbackJson writes it (data-figure names it, data-usd/data-value holds it), for tools
// reading the page. Label values are HTML-escaped. Pure.
std::string ShowbackHtml(const Showback& report);

}  // namespace agentbudget::core
