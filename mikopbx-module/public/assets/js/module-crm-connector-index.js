/* global globalRootUrl, globalTranslate, Form */
/*
 * CRM connector module: the settings page. Shows the fields of the chosen CRM, checks the form
 * before it is sent (the server and the daemon check again), and refreshes the status panel
 * from the daemon's /healthz every 10 seconds.
 */
const ModuleCrmConnector = {
	$formObj: $('#module-crm-connector-form'),
	statusTimer: null,

	validateRules: {
		http_port: {
			identifier: 'http_port',
			rules: [{ type: 'integer[1..65535]', prompt: globalTranslate.mod_crm_ErrorPort }],
		},
		agi_port: {
			identifier: 'agi_port',
			rules: [
				{ type: 'integer[1..65535]', prompt: globalTranslate.mod_crm_ErrorPort },
				{ type: 'different[http_port]', prompt: globalTranslate.mod_crm_ErrorSamePorts },
			],
		},
		attempt_seconds: {
			identifier: 'attempt_seconds',
			rules: [{ type: 'integer[1..300]', prompt: globalTranslate.mod_crm_ErrorSeconds }],
		},
		country_code: {
			identifier: 'country_code',
			depends: 'number_region',
			optional: true,
			rules: [{ type: 'regExp[/^[0-9]*$/]', prompt: globalTranslate.mod_crm_ErrorCountry }],
		},
		public_url: {
			identifier: 'public_url',
			optional: true,
			rules: [{ type: 'regExp[/^https?:\\/\\//]', prompt: globalTranslate.mod_crm_ErrorUrl }],
		},
	},

	initialize() {
		$('#crm-connector-tabs .item').tab();
		ModuleCrmConnector.$formObj.find('.ui.checkbox').checkbox();
		ModuleCrmConnector.$formObj.find('.ui.dropdown').dropdown({
			onChange: ModuleCrmConnector.showSections,
		});
		ModuleCrmConnector.showSections();
		ModuleCrmConnector.initializeForm();
		ModuleCrmConnector.refreshStatus();
		ModuleCrmConnector.statusTimer = setInterval(ModuleCrmConnector.refreshStatus, 10000);
	},

	/** Only the chosen CRM's fields, and only the chosen authorisation's. */
	showSections() {
		const crm = ModuleCrmConnector.$formObj.form('get value', 'crm') || 'builtin';
		$('.crm-section').each((index, element) => {
			const wanted = $(element).data('crm').split(' ');
			$(element).toggle(wanted.includes(crm));
		});
		const auth = ModuleCrmConnector.$formObj.form('get value', 'amo_auth_mode') || 'long_lived';
		$('.amo-auth').each((index, element) => {
			$(element).toggle($(element).data('auth') === auth);
		});
		// The country code follows a chosen region; it is asked only without one.
		$('#crm-country-code').toggle(!ModuleCrmConnector.$formObj.form('get value', 'number_region'));
		const b24auth = ModuleCrmConnector.$formObj.form('get value', 'b24_auth_mode') || 'oauth';
		$('.b24-auth').each((index, element) => {
			$(element).toggle($(element).data('auth') === b24auth);
		});
	},

	refreshStatus() {
		$.getJSON(`${globalRootUrl}module-crm-connector/module-crm-connector/status`, (data) => {
			const health = data.health || {};
			const yes = globalTranslate.mod_crm_StatusYes;
			const no = globalTranslate.mod_crm_StatusNo;
			const unknown = globalTranslate.mod_crm_StatusUnknown;
			$('#crm-status-running').text(data.running ? yes : no);
			$('#crm-status-ami').text(health.ami ? (health.ami.connected ? yes : no) : unknown);
			$('#crm-status-depth').text(health.outbox ? health.outbox.depth : unknown);
			$('#crm-status-dead').text(health.outbox ? health.outbox.dead : unknown);
			$('#crm-open-builtin').attr('href', data.crmUrl || '#');
		});
	},

	cbBeforeSendForm(settings) {
		const result = settings;
		result.data = ModuleCrmConnector.$formObj.form('get values');
		return result;
	},

	cbAfterSendForm() {
		ModuleCrmConnector.refreshStatus();
	},

	initializeForm() {
		Form.$formObj = ModuleCrmConnector.$formObj;
		Form.url = `${globalRootUrl}module-crm-connector/module-crm-connector/save`;
		Form.validateRules = ModuleCrmConnector.validateRules;
		Form.cbBeforeSendForm = ModuleCrmConnector.cbBeforeSendForm;
		Form.cbAfterSendForm = ModuleCrmConnector.cbAfterSendForm;
		Form.initialize();
	},
};

$(document).ready(() => {
	ModuleCrmConnector.initialize();
});
