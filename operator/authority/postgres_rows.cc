#include "operator/authority/postgres_rows.h"

#include <algorithm>
#include <cstdlib>

namespace agentbudget::authority {

Status InsertRows(PgConnection& connection, const std::string& insert, size_t columns,
                  const std::vector<std::optional<std::string>>& values,
                  const std::string& tail) {
  // Rows per statement: bounds its parameters (PostgreSQL takes at most 65,535).
  constexpr size_t kRowsPerInsert = 1000;
  const size_t rows = values.size() / columns;
  for (size_t begin = 0; begin < rows; begin += kRowsPerInsert) {
    const size_t end = std::min(rows, begin + kRowsPerInsert);
    std::string sql = insert;
    std::vector<const char*> params;
    params.reserve((end - begin) * columns);
    for (size_t row = begin; row < end; ++row) {
      sql += row == begin ? "(" : ",(";
      for (size_t column = 0; column < columns; ++column) {
        const auto& value = values[row * columns + column];
        params.push_back(value ? value->c_str() : nullptr);
        sql += (column == 0 ? "$" : ",$") + std::to_string(params.size());
      }
      sql += ")";
    }
    sql += " " + tail;
    if (auto inserted = connection.Exec(sql, params); !inserted.ok()) {
      return std::move(inserted).error();
    }
  }
  return OkStatus();
}

Result<size_t> DeleteRows(PgConnection& connection, const std::string& table,
                          const std::string& condition, const std::string& parameter) {
  auto deleted = connection.Exec("WITH gone AS (DELETE FROM " + table + " WHERE " + condition +
                                     " RETURNING 1) SELECT count(*) FROM gone",
                                 {parameter.c_str()});
  if (!deleted.ok()) {
    return std::move(deleted).error();
  }
  return static_cast<size_t>(std::atoll(deleted->Text(0, 0)));
}

}  // namespace agentbudget::authority
