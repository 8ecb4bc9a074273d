// The relying party of tests/api/express_rp.rs: an Express app that signs
// its users in with authd through express-openid-connect, with the
// settings README.md's "Sign in with authd" gives. Configured by the
// environment; prints "listening" once it accepts connections.
const express = require('express');
const { auth, requiresAuth } = require('express-openid-connect');

const port = Number(process.env.PORT);
const app = express();
app.use(
  auth({
    issuerBaseURL: process.env.ISSUER,
    baseURL: `http://127.0.0.1:${port}`,
    clientID: process.env.CLIENT_ID,
    clientSecret: process.env.CLIENT_SECRET,
    secret: process.env.SESSION_SECRET,
    authRequired: false,
    idpLogout: true,
    authorizationParams: { response_type: 'code', scope: 'openid profile email' },
  }),
);

const text = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

app.get('/', requiresAuth(), async (req, res) => {
  // UserInfo too, with the access token the code exchange gave.
  const info = await req.oidc.fetchUserInfo();
  res.send(
    `<p id="sub">${text(req.oidc.user.sub)}</p>` +
      `<p id="name">${text(req.oidc.user.name)}</p>` +
      `<p id="email">${text(info.email)}</p>`,
  );
});

app.listen(port, '127.0.0.1', () => console.log('listening'));
