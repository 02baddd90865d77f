{# CRM connector module: settings form and status panel (Semantic UI, as the admin cabinet). #}
<div class="ui segment" id="crm-connector-status">
    <h4 class="ui header">{{ t._('mod_crm_Status') }}</h4>
    <div class="ui four statistics mini">
        <div class="statistic"><div class="value" id="crm-status-running">…</div><div class="label">{{ t._('mod_crm_StatusRunning') }}</div></div>
        <div class="statistic"><div class="value" id="crm-status-ami">…</div><div class="label">{{ t._('mod_crm_StatusAmi') }}</div></div>
        <div class="statistic"><div class="value" id="crm-status-depth">…</div><div class="label">{{ t._('mod_crm_StatusOutbox') }}</div></div>
        <div class="statistic"><div class="value" id="crm-status-dead">…</div><div class="label">{{ t._('mod_crm_StatusDead') }}</div></div>
    </div>
    <a class="ui basic button" id="crm-open-builtin" target="_blank" rel="noopener" href="#"><i class="external alternate icon"></i>{{ t._('mod_crm_OpenCrm') }}</a>
</div>

{{ form('module-crm-connector/module-crm-connector/save', 'role': 'form', 'class': 'ui large form', 'id': 'module-crm-connector-form') }}
<div class="ui top attached tabular menu" id="crm-connector-tabs">
    <a class="item active" data-tab="crm">{{ t._('mod_crm_TabCrm') }}</a>
    <a class="item" data-tab="interception">{{ t._('mod_crm_TabInterception') }}</a>
    <a class="item" data-tab="numbers">{{ t._('mod_crm_TabNumbers') }}</a>
</div>

<div class="ui bottom attached tab segment active" data-tab="crm">
    <div class="ten wide field"><label>{{ t._('mod_crm_Crm') }}</label>{{ form.render('crm') }}</div>
    <div class="field crm-section" data-crm="amocrm bitrix24 webhook">
        <div class="ui toggle checkbox"><label>{{ t._('mod_crm_BuiltinEnabled') }}</label>{{ form.render('builtin_enabled') }}</div>
    </div>
    <div class="crm-section" data-crm="amocrm">
        <div class="ten wide field"><label>{{ t._('mod_crm_AmoDomain') }}</label>{{ form.render('amo_domain') }}</div>
        <div class="ten wide field"><label>{{ t._('mod_crm_AmoAuthMode') }}</label>{{ form.render('amo_auth_mode') }}</div>
        <div class="ten wide field amo-auth" data-auth="long_lived"><label>{{ t._('mod_crm_AmoToken') }}</label>{{ form.render('amo_token') }}</div>
        <div class="amo-auth" data-auth="oauth">
            <div class="ten wide field"><label>{{ t._('mod_crm_AmoClientId') }}</label>{{ form.render('amo_client_id') }}</div>
            <div class="ten wide field"><label>{{ t._('mod_crm_AmoClientSecret') }}</label>{{ form.render('amo_client_secret') }}</div>
            <div class="ten wide field"><label>{{ t._('mod_crm_AmoRedirectUri') }}</label>{{ form.render('amo_redirect_uri') }}</div>
            <div class="ten wide field"><label>{{ t._('mod_crm_AmoAuthCode') }}</label>{{ form.render('amo_auth_code') }}</div>
        </div>
    </div>
    <div class="crm-section" data-crm="bitrix24">
        <div class="ten wide field"><label>{{ t._('mod_crm_B24AuthMode') }}</label>{{ form.render('b24_auth_mode') }}</div>
        <div class="b24-auth" data-auth="oauth">
            <div class="ten wide field"><label>{{ t._('mod_crm_B24Portal') }}</label>{{ form.render('b24_portal') }}</div>
            <div class="ten wide field"><label>{{ t._('mod_crm_B24ClientId') }}</label>{{ form.render('b24_client_id') }}</div>
            <div class="ten wide field"><label>{{ t._('mod_crm_B24ClientSecret') }}</label>{{ form.render('b24_client_secret') }}</div>
            <div class="ui info message">{{ t._('mod_crm_B24InstallHint') }}</div>
        </div>
        <div class="ten wide field b24-auth" data-auth="webhook"><label>{{ t._('mod_crm_B24WebhookUrl') }}</label>{{ form.render('b24_webhook_url') }}</div>
    </div>
    <div class="crm-section" data-crm="webhook">
        <div class="ten wide field"><label>{{ t._('mod_crm_WebhookUrl') }}</label>{{ form.render('webhook_url') }}</div>
        <div class="ten wide field"><label>{{ t._('mod_crm_WebhookSecret') }}</label>{{ form.render('webhook_secret') }}</div>
    </div>
</div>

<div class="ui bottom attached tab segment" data-tab="interception">
    <div class="ten wide field"><label>{{ t._('mod_crm_InterceptionMode') }}</label>{{ form.render('interception_mode') }}</div>
    <div class="field"><label>{{ t._('mod_crm_AttemptSeconds') }}</label>{{ form.render('attempt_seconds') }}</div>
    <div class="ten wide field"><label>{{ t._('mod_crm_WorkingHours') }}</label>{{ form.render('working_hours') }}
        <small>{{ t._('mod_crm_WorkingHoursHint') }}</small></div>
    <div class="six wide field"><label>{{ t._('mod_crm_Timezone') }}</label>{{ form.render('timezone') }}</div>
</div>

<div class="ui bottom attached tab segment" data-tab="numbers">
    <div class="six wide field"><label>{{ t._('mod_crm_NumberRegion') }}</label>{{ form.render('number_region') }}</div>
    <div class="field" id="crm-country-code"><label>{{ t._('mod_crm_CountryCode') }}</label>{{ form.render('country_code') }}</div>
    <div class="field"><label>{{ t._('mod_crm_NationalPrefix') }}</label>{{ form.render('national_prefix') }}</div>
    <div class="field"><label>{{ t._('mod_crm_HttpPort') }}</label>{{ form.render('http_port') }}</div>
    <div class="field"><label>{{ t._('mod_crm_AgiPort') }}</label>{{ form.render('agi_port') }}</div>
    <div class="ten wide field"><label>{{ t._('mod_crm_PublicUrl') }}</label>{{ form.render('public_url') }}</div>
    <div class="ten wide field"><label>{{ t._('mod_crm_ApiToken') }}</label>
        <input type="text" readonly value="{{ apiToken }}" id="crm-api-token"></div>
</div>

{{ partial("partials/submitbutton", ['indexurl': 'pbx-extension-modules/index/']) }}
{{ endform() }}
