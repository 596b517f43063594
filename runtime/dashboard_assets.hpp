#pragma once

// The dashboard's static files (runtime/dashboard/), built into the binary
// by runtime/dashboard/embed.cmake: tetherd serves them at /dashboard/ with
// no file beside it.

#include <string_view>

namespace tether::runtime {

struct dashboard_asset {
  std::string_view name;
  /// Without parameters ("text/css"); the text is UTF-8.
  std::string_view content_type;
  std::string_view body;
};

/// The file of this name ("index.html", "app.js", "style.css"), or null.
const dashboard_asset* find_dashboard_asset(std::string_view name);

} // namespace tether::runtime
