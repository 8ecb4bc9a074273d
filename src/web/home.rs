//! `GET /`: a page for people who open the server in a browser, naming the
//! issuer and the endpoints (rendered from `templates/`).

use actix_web::http::header::ContentType;
use actix_web::{web, HttpResponse};
use askama::Template;

use crate::state::AppState;

#[derive(Template)]
#[template(path = "index.html")]
struct Index<'a> {
    issuer: &'a str,
}

pub(super) async fn home(state: web::Data<AppState>) -> HttpResponse {
    match (Index {
        issuer: &state.issuer.issuer,
    })
    .render()
    {
        Ok(html) => HttpResponse::Ok()
            .content_type(ContentType::html())
            .body(html),
        Err(e) => {
            log::error!("rendering the home page: {e}");
            HttpResponse::InternalServerError().finish()
        }
    }
}
