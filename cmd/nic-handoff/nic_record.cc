// The state file of nic-handoff: KEY=VALUE lines, written whole (atomically)
// after every step, so that a crash leaves exactly what was done.
#include <algorithm>

#include "domid.h"
#include "nic_handoff.h"
#include "text.h"

namespace qmin {

bool Took(const NicRecord& record, std::string_view step) {
  return std::find(record.done.begin(), record.done.end(), step) != record.done.end();
}

bool IsStepName(std::string_view name) {
  for (std::string_view known : kStepNames)
    if (name == known) return true;
  return false;
}

std::string FormatRecord(const NicRecord& record) {
  std::string text = "# nic-handoff: what was done, for `nic-handoff restore`\n";
  const auto line = [&](const char* key, const std::string& value) {
    if (!value.empty()) text += std::string(key) + "=" + value + "\n";
  };
  line("iface", record.iface);
  line("mac", record.mac);
  line("bdf", record.bdf);
  line("driver", record.driver);
  line("up", record.was_up ? "1" : "0");
  for (const InterfaceAddress& address : record.addresses) line("address", FormatAddress(address));
  for (const InterfaceRoute& route : record.routes) line("route", FormatRoute(route));
  line("netvm", record.netvm);
  line("domid", record.netvm_domid == 0 ? "" : std::to_string(record.netvm_domid));
  line("vif", record.vif);
  line("gateway", record.gateway);
  for (const std::string& step : record.done) line("done", step);
  return text;
}

Result<NicRecord> ParseRecord(std::string_view text, const std::string& source) {
  NicRecord record;
  std::size_t number = 0;
  for (std::string_view line : Split(text, '\n')) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    const std::size_t equals = line.find('=');
    const auto bad = [&](const std::string& why) {
      return InvalidError("read " + source + " line " + std::to_string(number), why);
    };
    if (equals == std::string_view::npos) return bad("expected KEY=VALUE");
    const std::string_view key = line.substr(0, equals);
    const std::string value(line.substr(equals + 1));
    if (key == "iface") {
      record.iface = value;
    } else if (key == "mac") {
      record.mac = value;
    } else if (key == "bdf") {
      record.bdf = value;
    } else if (key == "driver") {
      record.driver = value;
    } else if (key == "up") {
      record.was_up = value == "1";
    } else if (key == "address") {
      Result<InterfaceAddress> address = ParseInterfaceAddress(value);
      if (!address) return bad(address.error().reason);
      record.addresses.push_back(*address);
    } else if (key == "route") {
      Result<InterfaceRoute> route = ParseRoute(value);
      if (!route) return bad(route.error().reason);
      record.routes.push_back(*route);
    } else if (key == "netvm") {
      record.netvm = value;
    } else if (key == "domid") {
      const auto domid = ParseDomainId(value);
      if (!domid) return bad("bad domain ID");
      record.netvm_domid = *domid;
    } else if (key == "vif") {
      record.vif = value;
    } else if (key == "gateway") {
      record.gateway = value;
    } else if (key == "done") {
      if (!IsStepName(value)) return bad("unknown step " + value);
      record.done.push_back(value);
    } else {
      return bad("unknown key " + std::string(key));
    }
  }
  // What becomes a path or a name is checked before it is used.
  if (!IsSafeName(record.iface) || record.bdf.empty() || !IsNameText(record.bdf, ":") ||
      (!record.driver.empty() && record.driver.rfind("/sys/bus/pci/drivers/", 0) != 0))
    return InvalidError("read " + source, "it does not describe a NIC");
  return record;
}

}  // namespace qmin
