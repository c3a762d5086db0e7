#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "operator/authority/pg_connection.h"

namespace agentbudget::authority {

// Inserts rows of `columns` text values each (nullopt stands for NULL; `values` holds them
// row after row) as `insert` ("INSERT INTO t (a, b) VALUES ") followed by `tail` (such as
// "ON CONFLICT DO NOTHING"), in multi-row statements of at most 1,000 rows.
// REQUIRES: values.size() is a multiple of columns; columns * 1,000 < 65,536.
Status InsertRows(PgConnection& connection, const std::string& insert, size_t columns,
                  const std::vector<std::optional<std::string>>& values,
                  const std::string& tail);

// Deletes the rows of `table` where `condition` holds, its $1 being `parameter`: how many.
Result<size_t> DeleteRows(PgConnection& connection, const std::string& table,
                          const std::string& condition, const std::string& parameter);

}  // namespace agentbudget::authority
