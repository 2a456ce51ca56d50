// The files the gateway's HTTP port serves as they are (the web page, its
// script and style, the API docs page and the OpenAPI description), compiled
// into the binary from gateway/http/web/ and gateway/http/openapi.json by
// gateway/http/embed_assets.cmake, so a deployment has no files to ship or
// find at run time.
#pragma once

#include <span>
#include <string_view>

namespace recsys::gateway {

struct WebAsset {
  std::string_view path;          // URL path, e.g. "/app.js"
  std::string_view content_type;  // from the file's extension
  std::string_view body;
};

// Every embedded file; index.html is also served at "/".
std::span<const WebAsset> WebAssets();

// The asset at `path`, or null.
const WebAsset* FindWebAsset(std::string_view path);

}  // namespace recsys::gateway
