-- wrk script: POST a form to the token endpoint with HTTP Basic client
-- authentication. FORM and BASIC (base64 of id:secret) come from the
-- environment; see run.sh. wrk reports any non-2xx answer itself.
wrk.method = "POST"
wrk.body = os.getenv("FORM")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("BASIC")
