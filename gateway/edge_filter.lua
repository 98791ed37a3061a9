-- Agentopia edge, response path: OpenAI-shaped errors.
--
-- Contract with the services (rendered by gateway/envoy_config.py):
--   * `x-agentopia-error: <OpenAI error JSON>` on a trailers-only gRPC error response
--     replaces the body; `x-agentopia-http-status: <3-digit status>` sets :status.
--   * Any other non-2xx reply to an OpenAI path (/v1/*) -- Envoy's own 404/413/503,
--     the transcoder's google.rpc.Status JSON, a gRPC status the transcoder could not
--     render -- is wrapped into {"error": {"message", "type", "param", "code"}}; on the
--     Messages API paths (/v1/messages*) into that API's own shape,
--     {"type": "error", "error": {"type", "message"}}, with 503 as 529 (overloaded).
--   * On other REST paths a gRPC error the transcoder could not render (empty body,
--     content-type application/grpc), or a plain-text refusal of its own (a body it
--     cannot parse), becomes {"code", "message", "details": []}.
--
-- Envoy runs this only for REST callers (never for native gRPC, request content-type
-- application/grpc*) and only on error responses: a status outside 2xx, or the
-- services' x-agentopia-error (gateway/filters.py holds the matcher). Successes and
-- streams never reach it. The request's own path and method come from dynamic
-- metadata (header_to_metadata, before the transcoder rewrites them); grpc-*,
-- x-envoy-* and x-agentopia-* headers and trailers are removed natively afterwards
-- (header_mutation), so this script reads them but never has to clean them.

local META = "agentopia.edge"
local OPENAI_PREFIX = "/v1/"
local MESSAGES_PREFIX = "/v1/messages"
local NATIVE_PREFIX = "/agentopia/"
local MAX_BODY_BYTES = __MAX_BODY_BYTES__

local TYPE_BY_STATUS = {
  [400] = "invalid_request_error", [401] = "authentication_error",
  [403] = "permission_error", [404] = "not_found_error", [409] = "conflict_error",
  [413] = "invalid_request_error", [422] = "invalid_request_error",
  [429] = "rate_limit_error",
}

local CODE_BY_STATUS = {
  [400] = "invalid_request", [401] = "unauthenticated", [403] = "permission_denied",
  [404] = "not_found", [405] = "method_not_allowed", [408] = "request_timeout",
  [409] = "conflict", [413] = "request_too_large", [415] = "unsupported_media_type",
  [429] = "rate_limited", [431] = "headers_too_large", [500] = "internal",
  [501] = "unimplemented", [502] = "bad_gateway", [503] = "service_unavailable",
  [504] = "timeout",
}

-- google.rpc.Code numbers to the codes services/kernel/errors.py falls back to.
local CODE_BY_GRPC = {
  [1] = "cancelled", [2] = "unknown", [3] = "invalid_argument", [4] = "timeout",
  [5] = "not_found", [6] = "already_exists", [7] = "permission_denied",
  [8] = "resource_exhausted", [9] = "failed_precondition", [10] = "aborted",
  [11] = "out_of_range", [12] = "unimplemented", [13] = "internal",
  [14] = "service_unavailable", [15] = "data_loss", [16] = "unauthenticated",
}

local function starts_with(text, prefix)
  return string.sub(text, 1, #prefix) == prefix
end

local function json_escape(text)
  return (string.gsub(text, '[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    if c == "\n" then return "\\n" end
    if c == "\t" then return "\\t" end
    return string.format("\\u%04x", string.byte(c))
  end))
end

-- grpc-message is percent-encoded (gRPC over HTTP/2 spec).
local function percent_decode(text)
  return (string.gsub(text, "%%(%x%x)", function(hex)
    return string.char(tonumber(hex, 16))
  end))
end

-- The raw (still JSON-escaped) text of the first `"key": "..."` string in `body`.
local function json_string_field(body, key)
  local _, stop = string.find(body, '"' .. key .. '"%s*:%s*"')
  if not stop then return nil end
  local i, n = stop + 1, #body
  while i <= n do
    local c = string.sub(body, i, i)
    if c == "\\" then
      i = i + 2
    elseif c == '"' then
      return string.sub(body, stop + 1, i - 1)
    else
      i = i + 1
    end
  end
  return nil
end

local function default_message(status, meta)
  if status == 404 then
    return json_escape("Invalid URL (" .. (meta.method or "GET") .. " " .. (meta.path or "/") .. ")")
  elseif status == 413 then
    return "Request body too large: the limit is " .. MAX_BODY_BYTES .. " bytes."
  elseif status == 503 then
    return "The service is temporarily unavailable; retry shortly."
  elseif status == 504 then
    return "The upstream service did not answer in time."
  end
  return "HTTP " .. status
end

-- An OpenAI-shaped error for a non-2xx response without x-agentopia-error. `body` is
-- google.rpc.Status JSON (from the transcoder), Envoy's plain text, or empty (then
-- `grpc` holds the grpc-status/grpc-message the transcoder could not render).
local function openai_error(status, body, meta, grpc)
  local message, code, kind
  if starts_with(body, "{") then
    message = json_string_field(body, "message")
    kind = json_string_field(body, "type")  -- ErrorInfo metadata, when present
    local reason = string.match(body, '"reason"%s*:%s*"([%w_]+)"')
    local grpc_code = tonumber(string.match(body, '"code"%s*:%s*(%d+)'))
    code = reason and string.lower(reason) or CODE_BY_GRPC[grpc_code]
  elseif #body > 0 and status ~= 404 and status ~= 413 then
    message = json_escape((string.gsub(body, "%s+$", "")))
  elseif grpc.status then
    message = grpc.message and json_escape(percent_decode(grpc.message))
    code = CODE_BY_GRPC[grpc.status]
  end
  if message == nil or message == "" then
    message = default_message(status, meta)
  end
  code = code or CODE_BY_STATUS[status] or ("http_" .. status)
  kind = kind or TYPE_BY_STATUS[status] or (status >= 500 and "server_error" or "api_error")
  return '{"error":{"message":"' .. message .. '","type":"' .. kind ..
    '","param":null,"code":"' .. code .. '"}}'
end

-- The Messages API's kinds by status (its error reference); 529 = overloaded.
local MESSAGES_TYPE_BY_STATUS = {
  [400] = "invalid_request_error", [401] = "authentication_error",
  [402] = "billing_error", [403] = "permission_error", [404] = "not_found_error",
  [413] = "request_too_large", [429] = "rate_limit_error", [500] = "api_error",
  [504] = "timeout_error", [529] = "overloaded_error",
}

-- The same error in the Messages API's shape: (status, body).
local function messages_error(status, body, meta, grpc)
  local openai = openai_error(status, body, meta, grpc)
  local message = json_string_field(openai, "message") or ""
  if status == 503 then status = 529 end
  local kind = MESSAGES_TYPE_BY_STATUS[status] or
    (status >= 500 and "api_error" or "invalid_request_error")
  return status, '{"type":"error","error":{"type":"' .. kind .. '","message":"' ..
    message .. '"}}'
end

-- What the transcoder renders for a gRPC error on the gateway's own REST API.
local function status_json(grpc)
  local message = grpc.message and json_escape(percent_decode(grpc.message)) or ""
  return '{"code":' .. (grpc.status or 2) .. ',"message":"' .. message .. '","details":[]}'
end

-- google.rpc.Code numbers for the HTTP statuses Envoy and the transcoder answer with
-- themselves (the inverse of the transcoder's own mapping).
local GRPC_BY_STATUS = {
  [400] = 3, [401] = 16, [403] = 7, [404] = 5, [408] = 4, [409] = 10, [413] = 8,
  [415] = 3, [429] = 8, [431] = 8, [501] = 12, [503] = 14, [504] = 4,
}

-- The transcoder's or Envoy's own plain-text refusal (a body it cannot parse, say) on
-- the gateway's REST API, in the shape the API's other errors have.
local function plain_status_json(status, text)
  local message = json_escape((string.gsub(text, "^[%s:]+", "")))
  message = (string.gsub(message, "%s+$", ""))
  return '{"code":' .. (GRPC_BY_STATUS[status] or 2) .. ',"message":"' .. message ..
    '","details":[]}'
end

-- Reading the body yields; header objects fetched before it are dead afterwards,
-- so headers are fetched again (they may still be modified at that point).
local function replace_body(handle, text)
  handle:body(true):setBytes(text)
  local headers = handle:headers()
  headers:replace("content-type", "application/json")
  headers:replace("content-length", tostring(#text))
end

function envoy_on_response(handle)
  local meta = handle:streamInfo():dynamicMetadata():get(META) or {}
  local openai = starts_with(meta.path or "", OPENAI_PREFIX)
  local headers = handle:headers()
  local agentopia_error = headers:get("x-agentopia-error")
  local override = headers:get("x-agentopia-http-status")
  local grpc = {
    status = tonumber(headers:get("grpc-status") or ""),
    message = headers:get("grpc-message"),
  }
  if agentopia_error then
    if override and string.match(override, "^[1-5]%d%d$") then
      headers:replace(":status", override)
    end
    replace_body(handle, agentopia_error)
    return
  end
  local status = tonumber(headers:get(":status")) or 0
  -- The gateway's own REST API (/agentopia/...): its errors are JSON too.
  local native = starts_with(meta.path or "", NATIVE_PREFIX)
  if status < 300 or not (openai or grpc.status or native) then
    return  -- nothing to rewrite
  end
  -- An error: small, so reading it whole is fine. A gRPC status the transcoder
  -- could not render arrives with an empty body (and whatever content-type).
  local body = handle:body(true)
  local text = body:getBytes(0, body:length())
  if starts_with(meta.path or "", MESSAGES_PREFIX) then
    local shaped_status, shaped = messages_error(status, text, meta, grpc)
    handle:headers():replace(":status", tostring(shaped_status))
    replace_body(handle, shaped)
  elseif openai then
    replace_body(handle, openai_error(status, text, meta, grpc))
  elseif #text == 0 then
    replace_body(handle, status_json(grpc))
  elseif status < 500 and not starts_with(text, "{") then
    -- (Envoy's own 5xx stay as they are: clients read those as "service unavailable".)
    replace_body(handle, plain_status_json(status, text))
  end
end
