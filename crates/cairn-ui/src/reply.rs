//! What a page answers, without an HTTP framework: a status, a few headers and a
//! body. The server's UI routes (`cairn-server`'s `ui` module) turn a [`Reply`] into
//! its response type, so this crate holds only loading and rendering.

use bytes::Bytes;
use futures::stream::BoxStream;

/// The body of a [`Reply`].
pub enum Body {
    /// A rendered page (`text/html; charset=utf-8`).
    Html(String),
    /// A file compiled into the binary (the UI's CSS and script).
    Static(&'static str),
    /// A file streamed from artifact storage.
    Stream(BoxStream<'static, std::io::Result<Bytes>>),
    /// Nothing (a redirect).
    Empty,
}

/// A page's answer.
pub struct Reply {
    pub status: u16,
    /// Header names in lower case, as HTTP/2 writes them.
    pub headers: Vec<(&'static str, String)>,
    pub body: Body,
}

impl Reply {
    /// A page, 200 OK.
    pub fn html(page: String) -> Self {
        Reply {
            status: 200,
            headers: vec![("content-type", "text/html; charset=utf-8".into())],
            body: Body::Html(page),
        }
    }

    /// 303 See Other to `location`: after a form's POST the browser loads the page
    /// with GET, so a reload does not post the form again.
    pub fn redirect(location: &str) -> Self {
        Reply {
            status: 303,
            headers: vec![("location", location.to_string())],
            body: Body::Empty,
        }
    }

    /// A file built into the binary, cached for a day (a new build changes the `?v=`
    /// the pages link it with).
    pub fn asset(content_type: &'static str, text: &'static str) -> Self {
        Reply {
            status: 200,
            headers: vec![
                ("content-type", content_type.into()),
                ("cache-control", "public, max-age=86400".into()),
            ],
            body: Body::Static(text),
        }
    }

    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    #[must_use]
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}
