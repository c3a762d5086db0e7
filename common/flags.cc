#include "common/flags.h"

#include <utility>

#include "common/log.h"

namespace agentbudget::flags {
namespace {

std::string Quoted(const std::string& text) { return text.empty() ? "none" : "\"" + text + "\""; }

// Parses with `parse` and stores the value in *out.
template <typename T, typename Parse>
FlagSet::Setter Store(T* out, Parse parse) {
  return [out, parse](std::string_view value) -> Status {
    auto parsed = parse(value);
    if (!parsed.ok()) {
      return std::move(parsed).error();
    }
    *out = std::move(parsed).value();
    return OkStatus();
  };
}

}  // namespace

void FlagSet::Add(Flag flag) { flags_.push_back(std::move(flag)); }

void FlagSet::Custom(std::string name, std::string default_text, std::string help, Setter set) {
  Add({std::move(name), std::move(help), std::move(default_text), false, std::move(set)});
}

void FlagSet::String(std::string name, std::string* out, std::string help) {
  Custom(std::move(name), Quoted(*out), std::move(help), [out](std::string_view value) {
    *out = std::string(value);
    return OkStatus();
  });
}

void FlagSet::List(std::string name, std::vector<std::string>* out, std::string help) {
  std::string items;
  for (const std::string& item : *out) {
    items += (items.empty() ? "" : ",") + item;
  }
  Custom(std::move(name), Quoted(items), std::move(help), [out](std::string_view value) {
    *out = SplitList(value);
    return OkStatus();
  });
}

void FlagSet::Bool(std::string name, bool* out, std::string help) {
  Add({std::move(name), std::move(help), *out ? "true" : "false", true, Store(out, ParseBool)});
}

void FlagSet::Port(std::string name, uint16_t* out, PortRule rule, std::string help) {
  Custom(std::move(name), std::to_string(*out), std::move(help),
         Store(out, [rule](std::string_view value) { return ParsePort(value, rule); }));
}

void FlagSet::Listen(std::string name, ListenAddress* out, PortRule rule, std::string help) {
  Custom(std::move(name), out->ToString(), std::move(help),
         Store(out, [rule](std::string_view value) { return ParseListenAddress(value, rule); }));
}

void FlagSet::LogLevel(std::string name, std::string* out, std::string help) {
  Custom(std::move(name), *out, std::move(help), [out](std::string_view value) -> Status {
    log::Level level = log::Level::kInfo;
    if (!log::ParseLevel(value, &level)) {
      return InvalidArgument("\"" + std::string(value) +
                             "\" is not a log level (debug, info, warn or error)");
    }
    *out = std::string(value);
    return OkStatus();
  });
}

void FlagSet::Money(std::string name, core::Money* out, std::string help) {
  Custom(std::move(name), out->ToString(), std::move(help), Store(out, ParseMoney));
}

void FlagSet::Money(std::string name, std::optional<core::Money>* out, std::string help) {
  Custom(std::move(name), out->has_value() ? (*out)->ToString() : "none", std::move(help),
         Store(out, ParseMoney));
}

const FlagSet::Flag* FlagSet::Find(std::string_view name) const {
  for (const Flag& flag : flags_) {
    if (flag.name == name) {
      return &flag;
    }
  }
  return nullptr;
}

Status FlagSet::Set(std::string_view name, std::string_view value) {
  const Flag* flag = Find(name);
  if (flag == nullptr) {
    return InvalidArgument("unknown flag --" + std::string(name) + " (see --help)");
  }
  if (Status set = flag->set(value); !set.ok()) {
    return InvalidArgument("--" + flag->name + ": " + set.error().message);
  }
  return OkStatus();
}

Result<std::vector<FlagSet::Arg>> FlagSet::Split(const std::vector<std::string>& args) const {
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      return std::vector<Arg>{{"help", ""}};
    }
  }
  std::vector<Arg> split;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      return InvalidArgument("unexpected argument \"" + arg + "\" (see --help)");
    }
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(2, equals == std::string::npos ? equals : equals - 2);
    const Flag* flag = Find(name);
    if (flag == nullptr) {
      return InvalidArgument("unknown flag --" + name + " (see --help)");
    }
    if (equals != std::string::npos) {
      split.push_back({name, arg.substr(equals + 1)});
    } else if (flag->is_bool) {
      split.push_back({name, "true"});
    } else if (i + 1 < args.size()) {
      split.push_back({name, args[++i]});
    } else {
      return InvalidArgument("--" + name + " needs a value");
    }
  }
  return split;
}

Result<bool> FlagSet::Parse(const std::vector<std::string>& args) {
  auto split = Split(args);
  if (!split.ok()) {
    return std::move(split).error();
  }
  for (const Arg& arg : *split) {
    if (arg.name == "help") {
      return true;
    }
    if (Status set = Set(arg.name, arg.value); !set.ok()) {
      return std::move(set).error();
    }
  }
  return false;
}

std::vector<std::string> FlagSet::Names() const {
  std::vector<std::string> names;
  for (const Flag& flag : flags_) {
    names.push_back(flag.name);
  }
  return names;
}

std::string FlagSet::Help(const std::function<std::string(const std::string&)>& annotate) const {
  std::string text = usage_ + "\nFlags (--name=value or --name value):\n";
  for (const Flag& flag : flags_) {
    text += "  --" + flag.name;
    if (annotate) {
      const std::string annotation = annotate(flag.name);
      text += annotation.empty() ? "" : " " + annotation;
    }
    text += "\n      " + flag.help;
    if (!flag.default_text.empty()) {
      text += " (default: " + flag.default_text + ")";
    }
    text += "\n";
  }
  text += "  --help, -h\n      print this text and exit\n";
  return text;
}

}  // namespace agentbudget::flags
