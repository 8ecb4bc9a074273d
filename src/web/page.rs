//! Every HTML response: rendered from a template (askama escapes every
//! value), with the headers that keep a page safe in a browser.

use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};
use askama::Template;

/// No script at all, styles only from our own stylesheet, forms only to
/// us, and no framing (clickjacking).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A response builder with the page headers set: the policy above, no
/// framing for browsers that predate `frame-ancestors`, no `Referer`
/// leaving with a page's URL, no content sniffing, and no copy kept by
/// any cache (pages carry CSRF tokens and who is logged in).
pub fn builder(status: StatusCode) -> HttpResponseBuilder {
    let mut b = HttpResponse::build(status);
    b.insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    b
}

/// Renders `page` into the response `b` started; a template that fails
/// to render is a bare 500 (logged).
pub fn html(mut b: HttpResponseBuilder, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => b.content_type(ContentType::html()).body(body),
        Err(e) => {
            log::error!("rendering a page: {e}");
            builder(StatusCode::INTERNAL_SERVER_ERROR).finish()
        }
    }
}

/// A `303 See Other` to `location` (a local path), with the page headers.
pub fn see_other(location: &str) -> HttpResponseBuilder {
    let mut b = builder(StatusCode::SEE_OTHER);
    b.insert_header((header::LOCATION, location.to_string()));
    b
}
