#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/flag_values.h"
#include "common/result.h"
#include "core/money.h"

// The command line of the agentbudget binaries: one FlagSet per program binds each flag
// --name to a field of that program's options struct, with the field's initial value as
// the default shown by --help.
//
// Syntax: --name=value or --name value; a boolean flag also as a bare --name (true). "--help"
// or "-h" anywhere asks for the help text. Anything else (a positional argument, an unknown
// flag, a flag without its value, a value breaking the flag's rule) is an error naming the
// flag and the rule: `--listen: port "80x" is not a number in 0..65535`. Programs print the
// error on stderr and exit 2, or print Help() and exit 0.
//
// Not thread-safe; bound fields are written by Set() and Parse() only.
namespace agentbudget::flags {

class FlagSet {
 public:
  // Stores a parsed value. Fails with the rule the text breaks (no flag name).
  using Setter = std::function<Status(std::string_view value)>;

  // `usage` heads the help text (what the program does, how it is called).
  explicit FlagSet(std::string usage) : usage_(std::move(usage)) {}
  FlagSet(const FlagSet&) = delete;
  FlagSet& operator=(const FlagSet&) = delete;

  // Binders: each binds --name to *out, whose value now is the default shown by Help().
  // REQUIRES: *out outlives this FlagSet; `name` is not bound yet and is not "help".
  void String(std::string name, std::string* out, std::string help);
  // Comma-separated, items trimmed (SplitList); the default shows the items.
  void List(std::string name, std::vector<std::string>* out, std::string help);
  void Bool(std::string name, bool* out, std::string help);
  void Port(std::string name, uint16_t* out, PortRule rule, std::string help);
  void Listen(std::string name, ListenAddress* out, PortRule rule, std::string help);
  // debug, info, warn or error (log::ParseLevel), kept as text.
  void LogLevel(std::string name, std::string* out, std::string help);
  // A non-negative amount in USD; the optional form defaults to none.
  void Money(std::string name, core::Money* out, std::string help);
  void Money(std::string name, std::optional<core::Money>* out, std::string help);

  // An integer (or an optional one, defaulting to none) of at least `min`.
  template <typename T>
  void Int(std::string name, T* out, int64_t min, std::string help);

  // A positive std::chrono::duration, counted in the field's own unit when no suffix is
  // given (see ParseDuration): --status-ms=5000 and --status-ms=5s are the same.
  template <typename D>
  void Duration(std::string name, D* out, std::string help);

  // Anything else: `set` parses and stores the value. `default_text` is shown by Help().
  void Custom(std::string name, std::string default_text, std::string help, Setter set);

  // Sets --name from `value` (from the command line, a file or the environment). Fails
  // with kInvalidArgument "--name: <rule>" or "unknown flag --name (see --help)".
  Status Set(std::string_view name, std::string_view value);

  // One flag of a command line, in order.
  struct Arg {
    std::string name;  // without "--"
    std::string value;
  };
  // The flags of `args` (argv without the program name), without setting them: fails with
  // kInvalidArgument on a positional argument, an unknown flag or a missing value. When an
  // argument is "--help" or "-h", the result is {"help", ""} alone, whatever the others.
  Result<std::vector<Arg>> Split(const std::vector<std::string>& args) const;

  // Split() then Set() for each flag in order (a later one wins). Returns true, setting
  // nothing, when help was asked for.
  Result<bool> Parse(const std::vector<std::string>& args);

  // Every bound flag's name, in the order bound.
  std::vector<std::string> Names() const;

  // The help text: `usage`, then per flag "  --name <annotate(name)>", its help and its
  // default. `annotate` may add to a flag's first line (a config key, a variable).
  std::string Help(const std::function<std::string(const std::string&)>& annotate = {}) const;

 private:
  struct Flag {
    std::string name;
    std::string help;
    std::string default_text;  // empty: no default shown
    bool is_bool = false;
    Setter set;
  };
  const Flag* Find(std::string_view name) const;
  void Add(Flag flag);

  std::string usage_;
  std::vector<Flag> flags_;
};

// The usual program: an options struct T with a `bool help`, whose other fields `define`
// (callable as define(T&, FlagSet&)) binds. Returns `options` with the flags of `args`
// applied, or unchanged but for help = true when help was asked for; fails as
// FlagSet::Parse.
template <typename T, typename Define>
Result<T> ParseInto(T options, const std::string& usage, const std::vector<std::string>& args,
                    const Define& define) {
  FlagSet set(usage);
  define(options, set);
  auto help = set.Parse(args);
  if (!help.ok()) {
    return std::move(help).error();
  }
  options.help = *help;
  return options;
}

// The help text of the flags `define` binds to `defaults`.
template <typename T, typename Define>
std::string HelpOf(T defaults, const std::string& usage, const Define& define) {
  FlagSet set(usage);
  define(defaults, set);
  return set.Help();
}

namespace internal {
template <typename T>
struct IntValue {
  using type = T;
};
template <typename T>
struct IntValue<std::optional<T>> {
  using type = T;
};
}  // namespace internal

template <typename T>
void FlagSet::Int(std::string name, T* out, int64_t min, std::string help) {
  using Value = typename internal::IntValue<T>::type;
  static_assert(std::is_integral_v<Value>, "Int binds integers or optional integers");
  constexpr auto kValueMax = static_cast<uint64_t>(std::numeric_limits<Value>::max());
  constexpr auto kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  constexpr auto max = static_cast<int64_t>(kValueMax < kInt64Max ? kValueMax : kInt64Max);
  std::string default_text = "none";
  if constexpr (std::is_same_v<Value, T>) {
    default_text = std::to_string(*out);
  } else if (out->has_value()) {
    default_text = std::to_string(**out);
  }
  Custom(std::move(name), std::move(default_text), std::move(help),
         [out, min](std::string_view value) -> Status {
           auto number = ParseInt(value, min, max);
           if (!number.ok()) {
             return std::move(number).error();
           }
           *out = static_cast<Value>(*number);
           return OkStatus();
         });
}

template <typename D>
void FlagSet::Duration(std::string name, D* out, std::string help) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  static_assert(std::is_same_v<D, milliseconds> || std::is_same_v<D, std::chrono::seconds>,
                "Duration binds milliseconds or seconds");
  const std::string unit = std::is_same_v<D, milliseconds> ? "ms" : "s";
  Custom(std::move(name), std::to_string(out->count()) + unit, std::move(help),
         [out](std::string_view value) -> Status {
           auto duration = ParseDuration(value, duration_cast<milliseconds>(D{1}));
           if (!duration.ok()) {
             return std::move(duration).error();
           }
           *out = duration_cast<D>(*duration);
           return OkStatus();
         });
}

}  // namespace agentbudget::flags
