//! API Gateway HTTP API stand-in: route matching, the payload format 2.0 event, response mapping and CORS.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde_json::{json, Map, Value};

use crate::auth::{JwtAuthorizer, TokenIssuer};
use crate::event_time::{EventTime, EventTimeError, TIME_HEADER};
use crate::lambda_pool::FunctionPool;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter(String),
    Greedy(String),
}

/// One `Method Path` route of an HttpApi event.
#[derive(Clone)]
pub struct Route {
    pub method: String,
    pub path: String,
    pub api: String,
    pub function: Arc<FunctionPool>,
    pub authorizer: Option<JwtAuthorizer>,
    segments: Option<Vec<Segment>>,
}

impl Route {
    pub fn new(
        method: &str,
        path: &str,
        api: &str,
        function: Arc<FunctionPool>,
        authorizer: Option<JwtAuthorizer>,
    ) -> Self {
        let method = method.to_uppercase();
        let method = if method == "*" {
            "ANY".to_string()
        } else {
            method
        };
        let segments = (path != "$default").then(|| {
            path.trim_matches('/')
                .split('/')
                .filter(|s| !s.is_empty())
                .map(
                    |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(name) => match name.strip_suffix('+') {
                            Some(greedy) => Segment::Greedy(greedy.to_string()),
                            None => Segment::Parameter(name.to_string()),
                        },
                        None => Segment::Literal(s.to_string()),
                    },
                )
                .collect()
        });
        Self {
            method,
            path: path.to_string(),
            api: api.to_string(),
            function,
            authorizer,
            segments,
        }
    }

    pub fn route_key(&self) -> String {
        if self.path == "$default" {
            "$default".to_string()
        } else {
            format!("{} {}", self.method, self.path)
        }
    }

    /// Ranks routes as API Gateway does: literal segments before parameters, greedy paths and `$default` last.
    fn specificity(&self) -> (u8, usize, usize, u8) {
        match &self.segments {
            None => (0, 0, 0, 0),
            Some(segments) => {
                let greedy = segments.iter().any(|s| matches!(s, Segment::Greedy(_)));
                let literals = segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count();
                (
                    if greedy { 1 } else { 2 },
                    literals,
                    segments.len(),
                    u8::from(self.method != "ANY"),
                )
            }
        }
    }

    fn matches(&self, method: &str, path: &str) -> Option<BTreeMap<String, String>> {
        let method_ok = if method == "HEAD" {
            self.method == "HEAD"
        } else {
            self.method == method || self.method == "ANY"
        };
        if !method_ok {
            return None;
        }
        let Some(segments) = &self.segments else {
            return Some(BTreeMap::new());
        };
        let parts: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let mut parameters = BTreeMap::new();
        for (index, segment) in segments.iter().enumerate() {
            match segment {
                Segment::Literal(literal) => {
                    if parts.get(index) != Some(&literal.as_str()) {
                        return None;
                    }
                }
                Segment::Parameter(name) => {
                    let part = parts.get(index)?;
                    parameters.insert(name.clone(), percent_decode(part));
                }
                Segment::Greedy(name) => {
                    if parts.len() <= index {
                        return None;
                    }
                    parameters.insert(name.clone(), percent_decode(&parts[index..].join("/")));
                    return Some(parameters);
                }
            }
        }
        (parts.len() == segments.len()).then_some(parameters)
    }
}

/// `CorsConfiguration` of an HttpApi.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: Option<u64>,
    pub allow_credentials: bool,
}

impl Cors {
    /// Reads a resolved `CorsConfiguration` value.
    pub fn from_configuration(value: &Value) -> Self {
        let list = |field: &str| -> Vec<String> {
            value
                .get(field)
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        Self {
            allow_origins: list("AllowOrigins"),
            allow_methods: list("AllowMethods"),
            allow_headers: list("AllowHeaders"),
            expose_headers: list("ExposeHeaders"),
            max_age: value.get("MaxAge").and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            }),
            allow_credentials: value
                .get("AllowCredentials")
                .is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true")),
        }
    }

    fn allowed_origin(&self, origin: Option<&str>) -> Option<String> {
        if self.allow_origins.iter().any(|o| o == "*") {
            return Some(match (origin, self.allow_credentials) {
                (Some(origin), true) => origin.to_string(),
                _ => "*".to_string(),
            });
        }
        let origin = origin?;
        self.allow_origins
            .iter()
            .any(|o| o == origin)
            .then(|| origin.to_string())
    }

    fn apply(&self, request_origin: Option<&str>, headers: &mut HeaderMap) {
        let Some(origin) = self.allowed_origin(request_origin) else {
            return;
        };
        insert_header(headers, "access-control-allow-origin", &origin);
        if self.allow_credentials {
            insert_header(headers, "access-control-allow-credentials", "true");
        }
        if !self.expose_headers.is_empty() {
            insert_header(
                headers,
                "access-control-expose-headers",
                &self.expose_headers.join(","),
            );
        }
        if origin != "*" {
            insert_header(headers, "vary", "Origin");
        }
    }

    fn preflight(&self, request_origin: Option<&str>) -> Response {
        let mut headers = HeaderMap::new();
        self.apply(request_origin, &mut headers);
        if headers.contains_key("access-control-allow-origin") {
            insert_header(
                &mut headers,
                "access-control-allow-methods",
                &self.allow_methods.join(","),
            );
            if !self.allow_headers.is_empty() {
                insert_header(
                    &mut headers,
                    "access-control-allow-headers",
                    &self.allow_headers.join(","),
                );
            }
            if let Some(max_age) = self.max_age {
                insert_header(&mut headers, "access-control-max-age", &max_age.to_string());
            }
        }
        build_response(StatusCode::NO_CONTENT, headers, Body::empty())
    }
}

fn insert_header(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::from_str(value)) {
        headers.insert(name, value);
    }
}

fn build_response(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut headers = HeaderMap::new();
    insert_header(&mut headers, "content-type", "application/json");
    build_response(status, headers, Body::from(body.to_string()))
}

/// Request headers that the local runtime takes as facts about the request instead of passing
/// them on unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrustedHeaders {
    /// The first `X-Forwarded-For` address becomes `requestContext.http.sourceIp`.
    pub forwarded_for: bool,
    /// `x-local-time` sets `requestContext.time` and `timeEpoch` and is removed from the event.
    pub time: bool,
}

/// The routes and CORS settings of every HttpApi in the template, served on one port.
pub struct HttpApi {
    routes: Vec<Route>,
    cors: BTreeMap<String, Cors>,
    default_cors: Option<Cors>,
    pub account_id: String,
    pub api_id: String,
    pub trusted_headers: TrustedHeaders,
}

#[derive(Debug, thiserror::Error)]
enum TimeHeaderError {
    #[error("invalid {TIME_HEADER} header: {0}")]
    Invalid(#[source] EventTimeError),
    #[error(
        "invalid {TIME_HEADER} header: the value is not UTF-8; expected an RFC 3339 timestamp"
    )]
    NotText,
    #[error("invalid {TIME_HEADER} header: it appears {0} times; send one RFC 3339 timestamp")]
    Repeated(usize),
}

/// An HTTP request as the API handler receives it.
pub struct IncomingRequest {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub peer: SocketAddr,
}

impl HttpApi {
    pub fn new(
        mut routes: Vec<Route>,
        cors: BTreeMap<String, Cors>,
        account_id: String,
        api_id: String,
        trusted_headers: TrustedHeaders,
    ) -> Self {
        routes.sort_by_key(|r| std::cmp::Reverse(r.specificity()));
        let default_cors = cors.values().next().cloned();
        Self {
            routes,
            cors,
            default_cors,
            account_id,
            api_id,
            trusted_headers,
        }
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Handles one request: CORS preflight, route lookup, authorizer, invocation and response mapping.
    pub async fn handle(&self, request: IncomingRequest, issuer: &TokenIssuer) -> Response {
        let origin = request
            .headers
            .get("origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let method = request.method.as_str().to_string();
        let matched = self
            .routes
            .iter()
            .find_map(|route| route.matches(&method, &request.path).map(|p| (route, p)));
        let cors = matched
            .as_ref()
            .and_then(|(route, _)| self.cors.get(&route.api))
            .or(self.default_cors.as_ref());

        if method == "OPTIONS"
            && request
                .headers
                .contains_key("access-control-request-method")
        {
            if let Some(cors) = cors {
                return cors.preflight(origin.as_deref());
            }
        }

        let mut response = match (matched, self.request_time(&request.headers)) {
            (_, Err(error)) => {
                tracing::info!(path = %request.path, error = %error, "request rejected");
                json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"message": error.to_string()}),
                )
            }
            (None, Ok(_)) => json_response(StatusCode::NOT_FOUND, &json!({"message": "Not Found"})),
            (Some((route, parameters)), Ok(time)) => {
                self.invoke_route(route, parameters, request, time, issuer)
                    .await
            }
        };
        if let Some(cors) = cors {
            cors.apply(origin.as_deref(), response.headers_mut());
        }
        response
    }

    async fn invoke_route(
        &self,
        route: &Route,
        parameters: BTreeMap<String, String>,
        request: IncomingRequest,
        time: EventTime,
        issuer: &TokenIssuer,
    ) -> Response {
        let authorizer_context = match &route.authorizer {
            Some(authorizer) => {
                let header = request
                    .headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok());
                match issuer.authorize(header, authorizer) {
                    Ok(context) => Some(context),
                    Err(error) => {
                        tracing::info!(route = %route.route_key(), error = %error, "request rejected by the JWT authorizer");
                        return json_response(
                            StatusCode::UNAUTHORIZED,
                            &json!({"message": "Unauthorized"}),
                        );
                    }
                }
            }
            None => None,
        };
        let event = self.build_event(route, parameters, &request, time, authorizer_context);
        match route.function.invoke(&event).await {
            Ok(output) => map_response(&output),
            Err(error) => {
                tracing::warn!(route = %route.route_key(), function = %route.function.spec.logical_id, error = %error, "function failed; returning 502");
                json_response(
                    StatusCode::BAD_GATEWAY,
                    &json!({"message": "Internal Server Error"}),
                )
            }
        }
    }

    /// Returns the request's time: the trusted `x-local-time` header if present, else the clock.
    fn request_time(&self, headers: &HeaderMap) -> Result<EventTime, TimeHeaderError> {
        if !self.trusted_headers.time {
            return Ok(EventTime::now());
        }
        let values: Vec<&HeaderValue> = headers.get_all(TIME_HEADER).iter().collect();
        match values.as_slice() {
            [] => Ok(EventTime::now()),
            [value] => {
                let text = value.to_str().map_err(|_| TimeHeaderError::NotText)?;
                EventTime::parse(text).map_err(TimeHeaderError::Invalid)
            }
            several => Err(TimeHeaderError::Repeated(several.len())),
        }
    }

    fn source_ip(&self, request: &IncomingRequest) -> String {
        if self.trusted_headers.forwarded_for {
            if let Some(first) = request
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty())
            {
                return first.to_string();
            }
        }
        request.peer.ip().to_string()
    }

    /// Builds the payload format version 2.0 event.
    fn build_event(
        &self,
        route: &Route,
        parameters: BTreeMap<String, String>,
        request: &IncomingRequest,
        time: EventTime,
        authorizer: Option<Value>,
    ) -> Value {
        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut cookies = Vec::new();
        for (name, value) in &request.headers {
            if self.trusted_headers.time && name.as_str() == TIME_HEADER {
                continue;
            }
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            if name.as_str() == "cookie" {
                cookies.extend(
                    value
                        .split(';')
                        .map(|c| c.trim().to_string())
                        .filter(|c| !c.is_empty()),
                );
                continue;
            }
            headers
                .entry(name.as_str().to_string())
                .or_default()
                .push(value);
        }
        let source_ip = self.source_ip(request);
        headers
            .entry("x-forwarded-for".to_string())
            .or_insert_with(|| vec![source_ip.clone()]);
        let headers: Map<String, Value> = headers
            .into_iter()
            .map(|(k, v)| (k, Value::String(v.join(","))))
            .collect();

        let raw_query = request.query.clone().unwrap_or_default();
        let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (key, value) in url::form_urlencoded::parse(raw_query.as_bytes()) {
            query
                .entry(key.into_owned())
                .or_default()
                .push(value.into_owned());
        }

        let domain = headers
            .get("host")
            .and_then(Value::as_str)
            .unwrap_or("127.0.0.1")
            .to_string();
        let domain_prefix = domain.split('.').next().unwrap_or_default().to_string();
        let user_agent = headers
            .get("user-agent")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut request_context = json!({
            "accountId": self.account_id,
            "apiId": self.api_id,
            "domainName": domain,
            "domainPrefix": domain_prefix,
            "http": {
                "method": request.method.as_str(),
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": user_agent,
            },
            "requestId": ulid::Ulid::new().to_string(),
            "routeKey": route.route_key(),
            "stage": "$default",
            "time": time.api_gateway_format(),
            "timeEpoch": time.epoch_millis(),
        });
        if let Some(authorizer) = authorizer {
            request_context["authorizer"] = authorizer;
        }

        let mut event = json!({
            "version": "2.0",
            "routeKey": route.route_key(),
            "rawPath": request.path,
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": request_context,
            "isBase64Encoded": false,
        });
        if !cookies.is_empty() {
            event["cookies"] = json!(cookies);
        }
        if !query.is_empty() {
            let query: Map<String, Value> = query
                .into_iter()
                .map(|(k, v)| (k, Value::String(v.join(","))))
                .collect();
            event["queryStringParameters"] = Value::Object(query);
        }
        if !parameters.is_empty() {
            event["pathParameters"] = json!(parameters);
        }
        if !request.body.is_empty() {
            let content_type = headers.get("content-type").and_then(Value::as_str);
            if is_text_content(content_type) {
                event["body"] = Value::String(String::from_utf8_lossy(&request.body).into_owned());
            } else {
                event["body"] = Value::String(BASE64.encode(&request.body));
                event["isBase64Encoded"] = Value::Bool(true);
            }
        }
        event
    }
}

/// Returns whether API Gateway passes a body of this content type as text (not base64).
pub fn is_text_content(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence == "application/json"
        || essence.ends_with("+json")
        || essence == "application/xml"
        || essence.ends_with("+xml")
        || essence == "application/x-www-form-urlencoded"
        || essence == "application/javascript"
        || essence == "application/graphql"
}

/// Maps a function's output to an HTTP response as payload format 2.0 describes.
pub fn map_response(output: &Value) -> Response {
    let Some(status) = output.get("statusCode").and_then(|s| {
        s.as_u64()
            .or_else(|| s.as_str().and_then(|t| t.parse().ok()))
    }) else {
        // Without statusCode, API Gateway returns the output itself as a JSON body with status 200.
        let body = match output {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut headers = HeaderMap::new();
        insert_header(&mut headers, "content-type", "application/json");
        return build_response(StatusCode::OK, headers, Body::from(body));
    };
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let mut headers = HeaderMap::new();
    if let Some(Value::Object(values)) = output.get("multiValueHeaders") {
        for (name, list) in values {
            for value in list.as_array().into_iter().flatten() {
                if let (Ok(name), Ok(value)) = (
                    HeaderName::try_from(name.as_str()),
                    HeaderValue::from_str(&crate::resolve::scalar_to_string(value)),
                ) {
                    headers.append(name, value);
                }
            }
        }
    }
    if let Some(Value::Object(values)) = output.get("headers") {
        for (name, value) in values {
            insert_header(&mut headers, name, &crate::resolve::scalar_to_string(value));
        }
    }
    for cookie in output
        .get("cookies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append("set-cookie", value);
        }
    }
    let text = output
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let base64 = output
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let body = if base64 {
        match BASE64.decode(text) {
            Ok(bytes) => Body::from(bytes),
            Err(error) => {
                tracing::warn!(error = %error, "function returned an invalid base64 body");
                return json_response(
                    StatusCode::BAD_GATEWAY,
                    &json!({"message": "Internal Server Error"}),
                );
            }
        }
    } else {
        Body::from(text.to_string())
    };
    build_response(status, headers, body)
}

fn percent_decode(text: &str) -> String {
    crate::escapes::decode_hex_escapes(text, b'%')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_handles_escapes_and_plain_text() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("abc"), "abc");
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn text_content_types_are_not_base64() {
        assert!(is_text_content(Some("application/json; charset=utf-8")));
        assert!(is_text_content(Some("application/x-www-form-urlencoded")));
        assert!(is_text_content(Some("text/plain")));
        assert!(!is_text_content(Some("application/octet-stream")));
        assert!(!is_text_content(None));
    }
}
