<?php
/*
 * CRM connector module for MikoPBX: the settings form's fields.
 */

namespace Modules\ModuleCrmConnector\App\Forms;

use MikoPBX\AdminCabinet\Forms\BaseForm;
use Modules\ModuleCrmConnector\Lib\ConnectorConfig;
use Phalcon\Forms\Element\Check;
use Phalcon\Forms\Element\Numeric;
use Phalcon\Forms\Element\Password;
use Phalcon\Forms\Element\Select;
use Phalcon\Forms\Element\Text;

class ModuleCrmConnectorForm extends BaseForm
{
    public function initialize($entity = null, $options = null): void
    {
        $t = $this->translation;
        $this->add(new Select('crm', [
            'builtin' => $t->_('mod_crm_CrmBuiltin'),
            'amocrm' => $t->_('mod_crm_CrmAmo'),
            'bitrix24' => $t->_('mod_crm_CrmBitrix'),
            'webhook' => $t->_('mod_crm_CrmWebhook'),
        ], ['useEmpty' => false, 'class' => 'ui selection dropdown', 'value' => $entity->crm ?: 'builtin']));
        $this->add(new Check('builtin_enabled', $entity->builtin_enabled === '0' ? ['value' => null] : ['checked' => 'checked', 'value' => null]));

        $this->add(new Text('amo_domain', ['placeholder' => 'example.amocrm.ru']));
        $this->add(new Select('amo_auth_mode', [
            'long_lived' => $t->_('mod_crm_AmoLongLived'),
            'oauth' => $t->_('mod_crm_AmoOauth'),
        ], ['useEmpty' => false, 'class' => 'ui selection dropdown', 'value' => $entity->amo_auth_mode ?: 'long_lived']));
        $this->add(new Password('amo_token', ['value' => $entity->amo_token, 'autocomplete' => 'off']));
        $this->add(new Text('amo_client_id'));
        $this->add(new Password('amo_client_secret', ['value' => $entity->amo_client_secret, 'autocomplete' => 'off']));
        $this->add(new Text('amo_redirect_uri', ['placeholder' => 'https://pbx.example.ru/amocrm/oauth']));
        $this->add(new Text('amo_auth_code'));
        $this->add(new Select('b24_auth_mode', [
            'oauth' => $t->_('mod_crm_B24Oauth'),
            'webhook' => $t->_('mod_crm_B24Webhook'),
        ], ['useEmpty' => false, 'class' => 'ui selection dropdown', 'value' => $entity->b24_auth_mode ?: 'oauth']));
        $this->add(new Text('b24_portal', ['placeholder' => 'https://example.bitrix24.ru']));
        $this->add(new Text('b24_client_id', ['placeholder' => 'local.0123456789abcd.12345678']));
        $this->add(new Password('b24_client_secret', ['value' => $entity->b24_client_secret, 'autocomplete' => 'off']));
        $this->add(new Password('b24_webhook_url', ['value' => $entity->b24_webhook_url, 'autocomplete' => 'off', 'placeholder' => 'https://example.bitrix24.ru/rest/1/abcdef/']));
        $this->add(new Text('webhook_url', ['placeholder' => 'https://hooks.example.ru/pbx-calls']));
        $this->add(new Password('webhook_secret', ['value' => $entity->webhook_secret, 'autocomplete' => 'off']));

        $this->add(new Select('interception_mode', [
            'off' => $t->_('mod_crm_ModeOff'),
            'predial' => $t->_('mod_crm_ModePredial'),
            'parallel' => $t->_('mod_crm_ModeParallel'),
        ], ['useEmpty' => false, 'class' => 'ui selection dropdown', 'value' => $entity->interception_mode ?: 'off']));
        $this->add(new Numeric('attempt_seconds', ['style' => 'width: 100px;']));
        $this->addTextArea('working_hours', $entity->working_hours ?? '', 60, ['placeholder' => 'mon-fri 09:00-18:00']);
        $this->add(new Text('timezone', ['placeholder' => 'Europe/Moscow']));

        $regions = ['' => $t->_('mod_crm_RegionByCode')];
        foreach (array_keys(ConnectorConfig::REGIONS) as $code) {
            $regions[$code] = $t->_('mod_crm_Region' . $code);
        }
        $this->add(new Select('number_region', $regions, [
            'useEmpty' => false, 'class' => 'ui selection dropdown', 'value' => $entity->number_region ?? 'RU',
        ]));
        $this->add(new Text('country_code', ['style' => 'width: 100px;']));
        $this->add(new Text('national_prefix', ['style' => 'width: 100px;']));
        $this->add(new Numeric('http_port', ['style' => 'width: 120px;']));
        $this->add(new Numeric('agi_port', ['style' => 'width: 120px;']));
        $this->add(new Text('public_url', ['placeholder' => 'https://pbx.example.ru:18090']));
    }
}
