// The API docs page: drf-spectacular's Swagger UI start-up (its swagger_ui.js), run from a static
// file under the Content-Security-Policy. The values it needs are on #swagger-ui.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  var data = root.dataset;
  var swaggerSettings = JSON.parse(data.settings || "{}");
  var schemaAuthNames = JSON.parse(data.authNames || "[]");
  var oauth2Config = data.oauth2Config && data.oauth2Config !== "None" ? JSON.parse(data.oauth2Config) : null;
  var schemaAuthFailed = false;
  var ui = null;
  var plugins = [];

  function reload(ori) {
    return function () {
      schemaAuthFailed = false;
      setTimeout(function () { ui.specActions.download(); });
      return ori.apply(null, arguments);
    };
  }
  if (schemaAuthNames.length > 0) {
    plugins.push(function () {
      return { statePlugins: { auth: { wrapActions: { authorizeOauth2: reload, authorize: reload, logout: reload } } } };
    });
  }

  function isSchemaUrl(url) {
    return ui !== null && url === new URL(ui.getConfigs().url, document.baseURI).href;
  }

  function responseInterceptor(response) {
    if (!response.ok && isSchemaUrl(response.url)) {
      console.warn("schema request received '" + response.status + "'. disabling credentials for schema till logout.");
      if (!schemaAuthFailed) {
        schemaAuthFailed = true; // only retry once to prevent endless loop
        setTimeout(function () { ui.specActions.download(); });
      }
    }
    return response;
  }

  function injectAuthCredentials(request) {
    var authorized;
    if (ui !== null) {
      var state = ui.getState().get("auth").get("authorized");
      if (state !== undefined && Object.keys(state.toJS()).length !== 0) authorized = state.toJS();
    } else if ([undefined, "{}"].indexOf(localStorage.authorized) < 0) {
      authorized = JSON.parse(localStorage.authorized);
    }
    if (authorized === undefined) return;
    for (var i = 0; i < schemaAuthNames.length; i++) {
      var authDef = authorized[schemaAuthNames[i]];
      if (authDef === undefined || authDef.schema === undefined) continue;
      var schema = authDef.schema;
      if (schema.type === "http" && schema.scheme === "bearer") {
        request.headers.Authorization = "Bearer " + authDef.value;
        return;
      } else if (schema.type === "http" && schema.scheme === "basic") {
        request.headers.Authorization = "Basic " + btoa(authDef.value.username + ":" + authDef.value.password);
        return;
      } else if (schema.type === "apiKey" && schema.in === "header") {
        request.headers[schema.name] = authDef.value;
        return;
      } else if (schema.type === "oauth2" && authDef.token.token_type === "Bearer") {
        request.headers.Authorization = "Bearer " + authDef.token.access_token;
        return;
      }
    }
  }

  function requestInterceptor(request) {
    if (request.loadSpec && schemaAuthNames.length > 0 && !schemaAuthFailed) {
      try {
        injectAuthCredentials(request);
      } catch (e) {
        console.error("schema auth injection failed with error: ", e);
      }
    }
    // selectively omit adding headers to mitigate CORS issues.
    if (["GET", undefined].indexOf(request.method) < 0 && request.credentials === "same-origin") {
      request.headers[data.csrfHeader] = data.csrfToken;
    }
    return request;
  }

  ui = SwaggerUIBundle(Object.assign({
    url: data.schemaUrl,
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    plugins: plugins,
    layout: "BaseLayout",
    requestInterceptor: requestInterceptor,
    responseInterceptor: responseInterceptor,
  }, swaggerSettings));
  if (oauth2Config) ui.initOAuth(oauth2Config);
})();
