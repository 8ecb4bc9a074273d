//! `GET /`: a page for people who open the server in a browser, naming the
//! issuer and the endpoints (rendered from `templates/`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::page;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "index.html")]
struct Index<'a> {
    issuer: &'a str,
}

pub(super) async fn home(state: web::Data<AppState>) -> HttpResponse {
    page::html(
        page::builder(StatusCode::OK),
        &Index {
            issuer: &state.issuer.issuer,
        },
    )
}
