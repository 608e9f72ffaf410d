//! `zato service invoke PATH NAME`: upstream's request through the admin API, the service's
//! response printed as JSON, exit 0 only on success.
use std::io::IsTerminal;

use clap::Args;
use serde_json::Value;
use zato_common::admin::{AdminError, InvokeRequest};

use crate::component::{self, SERVER};
use crate::exit::{CliError, CliResult, NOT_A_ZATO_COMPONENT};

#[derive(Args, Debug)]
pub struct InvokeArgs {
    /// The server directory.
    pub path: std::path::PathBuf,
    /// The service name, e.g. zato.ping.
    pub name: String,
    /// The request: JSON text, XML (with --data-format xml) or any text.
    #[arg(long, allow_hyphen_values = true)]
    pub payload: Option<String>,
    /// Extra HTTP headers, as "k=v; k2=v2".
    #[arg(long)]
    pub headers: Option<String>,
    #[arg(long, default_value = "invoke")]
    pub channel: String,
    #[arg(long, default_value = "json")]
    pub data_format: String,
    /// plain_http or soap.
    #[arg(long)]
    pub transport: Option<String>,
    /// Run the service in the background and print its CID.
    #[arg(long, visible_alias = "async")]
    pub is_async: bool,
    /// Seconds an async invocation may wait before it is dropped.
    #[arg(long, default_value_t = 15)]
    pub expiration: u64,
    /// Indent the response (JSON or XML) even when the output is not a terminal.
    #[arg(long)]
    pub pretty: bool,
}

fn parse_headers(text: &str) -> CliResult<Vec<(String, String)>> {
    text.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| {
                    CliError::new(
                        crate::exit::INVALID_INPUT,
                        format!("--headers: `{p}` is not key=value"),
                    )
                })
        })
        .collect()
}

/// Sends `req` to the server in `path` through its admin API; the service's response, or a
/// CliError saying what went wrong and what to do. Every admin call of the CLI goes here.
pub async fn send(
    path: &std::path::Path,
    req: &InvokeRequest,
    headers: &[(String, String)],
) -> CliResult<Value> {
    let kind = component::kind(path)?;
    if kind != SERVER {
        return Err(CliError::new(
            NOT_A_ZATO_COMPONENT,
            format!("{} is a {kind}, not a server", path.display()),
        ));
    }
    let client = zato_common::locate::server_client(path)
        .await
        .map_err(|e| {
            CliError::failed(format!("Cannot find the server's admin credentials: {e}"))
        })?;
    let sent = client.send_with_headers(req, headers).await;
    if let Err(AdminError::Status { status: 401, .. }) = &sent
        && let Some(why) = server_port(path).and_then(|p| component::other_on_port(path, p))
    {
        return Err(CliError::failed(why));
    }
    match sent {
        Ok(resp) if resp.ok => Ok(resp.data),
        Ok(resp) => Err(CliError::failed(format!(
            "{} (CID {})",
            resp.details, resp.cid
        ))),
        Err(AdminError::Connect { url, source }) => Err(CliError::failed(format!(
            "Cannot reach the server at {url} ({source}); is it running? Start it with `zato start {}`",
            path.display()
        ))),
        Err(e @ AdminError::Status { status: 401, .. }) => Err(CliError::failed(format!(
            "{e}; the server rejected the admin.invoke credentials stored in the ODB. Set a new password with `zato set-admin-invoke-password {}`",
            path.display()
        ))),
        Err(e) => Err(CliError::failed(e.to_string())),
    }
}

/// The port in the server's `bind`.
fn server_port(path: &std::path::Path) -> Option<u16> {
    let cfg = zato_common::config::ServerConfig::load(path).ok()?;
    cfg.main.bind.rsplit_once(':')?.1.parse().ok()
}

/// Invokes a service with a JSON payload (the payload object itself, as admin services take it).
pub async fn call(path: &std::path::Path, service: &str, payload: &Value) -> CliResult<Value> {
    send(path, &InvokeRequest::new(service, payload), &[]).await
}

/// Prints a response as JSON: pretty on a terminal, compact in a pipe.
pub fn print_json(data: &Value) {
    println!("{}", json_text(data, std::io::stdout().is_terminal()));
}

fn json_text(data: &Value, pretty: bool) -> String {
    let text = if pretty {
        serde_json::to_string_pretty(data)
    } else {
        serde_json::to_string(data)
    };
    text.unwrap_or_default()
}

/// An XML document indented two spaces per level; None when `text` is not well-formed XML.
pub fn indent_xml(text: &str) -> Option<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut writer = quick_xml::Writer::new_with_indent(Vec::new(), b' ', 2);
    let mut depth = 0usize;
    loop {
        match reader.read_event().ok()? {
            Event::Eof => break,
            e => {
                match &e {
                    Event::Start(_) => depth += 1,
                    Event::End(_) => depth = depth.checked_sub(1)?,
                    _ => {}
                }
                writer.write_event(e).ok()?;
            }
        }
    }
    (depth == 0).then(|| String::from_utf8(writer.into_inner()).ok())?
}

/// How `zato service invoke` shows a response: an XML document (asked for, or any string
/// answer that is one) as XML, anything else as JSON.
fn response_text(data: &Value, xml_call: bool, pretty: bool) -> String {
    if let Value::String(doc) = data {
        let looks_xml = doc.trim_start().starts_with('<');
        if looks_xml
            && pretty
            && let Some(indented) = indent_xml(doc)
        {
            return indented;
        }
        if xml_call || (looks_xml && indent_xml(doc).is_some()) {
            return doc.clone();
        }
    }
    json_text(data, pretty)
}

pub async fn run(args: InvokeArgs) -> CliResult<()> {
    let headers = args
        .headers
        .as_deref()
        .map(parse_headers)
        .transpose()?
        .unwrap_or_default();
    // As upstream's CLI: the payload text is JSON-encoded (a JSON string) before base64.
    let payload = args.payload.map_or(Value::Null, Value::String);
    let mut req = InvokeRequest::new(&args.name, &payload);
    req.channel = Some(args.channel);
    let xml = args.data_format == "xml" || args.transport.as_deref() == Some("soap");
    req.data_format = Some(args.data_format);
    req.transport = args.transport;
    req.is_async = Some(args.is_async);
    req.expiration = Some(Value::from(args.expiration));
    let data = send(&args.path, &req, &headers).await?;
    let pretty = args.pretty || std::io::stdout().is_terminal();
    println!("{}", response_text(&data, xml, pretty));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_answers_print_as_xml() {
        let doc = Value::String("<a><b>1</b><c/></a>".into());
        assert_eq!(response_text(&doc, false, false), "<a><b>1</b><c/></a>");
        assert_eq!(
            response_text(&doc, false, true),
            "<a>\n  <b>1</b>\n  <c/>\n</a>"
        );
        // Text that only starts like XML stays a JSON string.
        let text = Value::String("<not closed".into());
        assert_eq!(response_text(&text, false, false), "\"<not closed\"");
        let obj = serde_json::json!({"a": 1});
        assert_eq!(response_text(&obj, false, false), "{\"a\":1}");
        assert_eq!(response_text(&obj, false, true), "{\n  \"a\": 1\n}");
        assert!(indent_xml("<a><b></a>").is_none());
    }
}
