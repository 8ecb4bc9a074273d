// @generated-style table definitions matching `migrations/` (diesel print-schema).

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        password_hash -> Text,
        disabled -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        tokens_valid_after -> BigInt,
        credential_generation -> BigInt,
        username_folded -> Nullable<Text>,
        email -> Nullable<Text>,
        email_verified -> Bool,
        name -> Nullable<Text>,
    }
}

diesel::table! {
    roles (name) {
        name -> Text,
        created_at -> BigInt,
        require_mfa -> Bool,
    }
}

diesel::table! {
    role_scopes (role_name, scope) {
        role_name -> Text,
        scope -> Text,
    }
}

diesel::table! {
    user_roles (user_id, role_name) {
        user_id -> Text,
        role_name -> Text,
    }
}

diesel::table! {
    clients (client_id) {
        client_id -> Text,
        secret_hash -> Nullable<Text>,
        name -> Text,
        grants -> Text,
        scopes -> Text,
        redirect_uris -> Text,
        audience -> Nullable<Text>,
        owner_id -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        introspects -> Text,
        owner_generation -> Nullable<BigInt>,
        id_token_alg -> Nullable<Text>,
        first_party -> Bool,
        post_logout_redirect_uris -> Text,
        backchannel_logout_uri -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Text,
        family_id -> Text,
        parent_hash -> Nullable<Text>,
        user_id -> Text,
        client_id -> Text,
        scope -> Text,
        issued_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        generation -> BigInt,
        family_expires_at -> BigInt,
        auth_time -> Nullable<BigInt>,
        sid -> Nullable<Text>,
        amr -> Nullable<Text>,
        retry_sealed -> Nullable<Text>,
    }
}

diesel::table! {
    auth_codes (code_hash) {
        code_hash -> Text,
        client_id -> Text,
        user_id -> Text,
        redirect_uri -> Text,
        scope -> Text,
        code_challenge -> Text,
        code_challenge_method -> Text,
        issued_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
        generation -> BigInt,
        family_id -> Nullable<Text>,
        access_jti -> Nullable<Text>,
        access_expires_at -> Nullable<BigInt>,
        nonce -> Nullable<Text>,
        auth_time -> Nullable<BigInt>,
        sid -> Nullable<Text>,
        amr -> Nullable<Text>,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        private_key_sealed -> Text,
        public_jwk -> Text,
        created_at -> BigInt,
        retired_at -> Nullable<BigInt>,
        purpose -> Text,
        activated_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    revoked_access_tokens (jti) {
        jti -> Text,
        expires_at -> BigInt,
        status_list -> Nullable<BigInt>,
        status_idx -> Nullable<BigInt>,
    }
}

diesel::table! {
    status_blocks (list_id, block) {
        list_id -> BigInt,
        block -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    login_failures (lock_key) {
        lock_key -> Text,
        username_hash -> Text,
        failures -> BigInt,
        locks -> BigInt,
        locked_until -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    password_params (id) {
        id -> BigInt,
        memory_kib -> BigInt,
        iterations -> BigInt,
        parallelism -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        user_id -> Text,
        credential_generation -> BigInt,
        csrf_secret -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        amr -> Nullable<Text>,
        sid -> Nullable<Text>,
    }
}

diesel::table! {
    csrf_keys (name) {
        name -> Text,
        secret -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    consents (user_id, client_id) {
        user_id -> Text,
        client_id -> Text,
        scopes -> Text,
        granted_at -> BigInt,
    }
}

diesel::table! {
    totp_secrets (user_id) {
        user_id -> Text,
        secret_sealed -> Text,
        last_step -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    session_clients (sid, client_id) {
        sid -> Text,
        client_id -> Text,
        user_id -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    recovery_codes (code_hash) {
        code_hash -> Text,
        user_id -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    logout_notices (id) {
        id -> Text,
        client_id -> Text,
        user_id -> Text,
        sid -> Text,
        created_at -> BigInt,
        attempts -> BigInt,
        next_attempt_at -> BigInt,
        lease_until -> BigInt,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    passkeys (credential_id) {
        credential_id -> Text,
        user_id -> Text,
        name -> Text,
        passkey -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
        last_challenge -> Nullable<Text>,
    }
}

diesel::joinable!(role_scopes -> roles (role_name));
diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(user_roles -> roles (role_name));
diesel::joinable!(clients -> users (owner_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(refresh_tokens -> clients (client_id));
diesel::joinable!(auth_codes -> users (user_id));
diesel::joinable!(auth_codes -> clients (client_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(consents -> users (user_id));
diesel::joinable!(consents -> clients (client_id));
diesel::joinable!(totp_secrets -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::joinable!(passkeys -> users (user_id));
diesel::joinable!(session_clients -> users (user_id));
diesel::joinable!(session_clients -> clients (client_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    roles,
    role_scopes,
    user_roles,
    clients,
    refresh_tokens,
    auth_codes,
    signing_keys,
    revoked_access_tokens,
    status_blocks,
    login_failures,
    password_params,
    sessions,
    csrf_keys,
    consents,
    totp_secrets,
    recovery_codes,
    session_clients,
    logout_notices,
    passkeys,
);
