// Starts GraphiQL against this server's /graphql. A file of its own, not an
// inline script, because the page's CSP allows scripts from this origin only.
(function () {
	'use strict';

	// The first visit's tab (GraphiQL then keeps the developer's own tabs in
	// localStorage). One operation, so the run button runs it at once.
	var query = [
		'# wxlogin playground (dev mode only).',
		'#',
		'# 1. Mint a wx.login() code from the WeChat simulator, as the phone would:',
		'#      curl -s -X POST ' + location.origin + '/dev/wechat/code -d \'{"user":"alice"}\'',
		'# 2. Put the code in Variables below and run (Ctrl-Enter). A code works',
		'#    once: mint a new one for every attempt.',
		'# 3. Copy the token into Headers as {"Authorization": "Bearer <token>"}',
		'#    and ask who you are: { me { id createdAt lastLoginAt } }',
		'',
		'mutation Login($code: String!) {',
		'  login(input: {code: $code}) {',
		'    token',
		'    expiresAt',
		'    created',
		'    user { id }',
		'  }',
		'}',
		''
	].join('\n');

	// No subscriptionUrl: the schema has no subscriptions, so GraphiQL makes
	// no WebSocket.
	var fetcher = GraphiQL.createFetcher({ url: location.origin + '/graphql' });

	// GraphiQL 4 takes a first visit's variables only from the variables
	// prop, which would also overwrite the saved ones on every later visit:
	// so pass it only while GraphiQL has saved nothing.
	var variables;
	try {
		if (!localStorage.getItem('graphiql:tabState')) {
			variables = '{\n  "code": "paste the code here"\n}';
		}
	} catch (e) {
		// Storage refused (private mode): GraphiQL keeps state in memory.
	}

	var root = ReactDOM.createRoot(document.getElementById('graphiql'));
	root.render(React.createElement(GraphiQL, {
		fetcher: fetcher,
		defaultQuery: query,
		variables: variables,
		defaultHeaders: '{}',
		defaultEditorToolsVisibility: 'variables',
		isHeadersEditorEnabled: true,
		// Headers hold bearer tokens: kept in memory, not localStorage,
		// unless the developer ticks "persist headers" in the settings.
		shouldPersistHeaders: false,
		inputValueDeprecation: true
	}));
}());
