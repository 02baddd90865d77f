<?php
/*
 * CRM connector module for MikoPBX: the settings the admin edits on the module's page.
 * One row; the table is created from these annotations at install (createSettingsTableByModelsAnnotations).
 */

namespace Modules\ModuleCrmConnector\Models;

use MikoPBX\Modules\Models\ModulesModelsBase;

class ModuleCrmConnector extends ModulesModelsBase
{
    /**
     * @Primary
     * @Identity
     * @Column(type="integer", nullable=false)
     */
    public $id;

    /**
     * Which CRM gets the calls: builtin, amocrm, bitrix24 or webhook.
     *
     * @Column(type="string", nullable=true, default="builtin")
     */
    public $crm = 'builtin';

    /**
     * Keep the built-in CRM on beside an external one (its call journal and pages).
     *
     * @Column(type="integer", nullable=true, default="1")
     */
    public $builtin_enabled = '1';

    /**
     * amoCRM account address, e.g. example.amocrm.ru.
     *
     * @Column(type="string", nullable=true)
     */
    public $amo_domain = '';

    /**
     * amoCRM authorisation: long_lived (private integration) or oauth.
     *
     * @Column(type="string", nullable=true, default="long_lived")
     */
    public $amo_auth_mode = 'long_lived';

    /**
     * @Column(type="string", nullable=true)
     */
    public $amo_token = '';

    /**
     * @Column(type="string", nullable=true)
     */
    public $amo_client_id = '';

    /**
     * @Column(type="string", nullable=true)
     */
    public $amo_client_secret = '';

    /**
     * @Column(type="string", nullable=true)
     */
    public $amo_redirect_uri = '';

    /**
     * One-time authorisation code (oauth mode, used once on the first start).
     *
     * @Column(type="string", nullable=true)
     */
    public $amo_auth_code = '';

    /**
     * Bitrix24 authorisation: oauth (a local application: call history, cards, recordings) or
     * webhook (an inbound webhook: lookups and click-to-call only, the portal refuses telephony).
     *
     * @Column(type="string", nullable=true, default="oauth")
     */
    public $b24_auth_mode = 'oauth';

    /**
     * Bitrix24 portal address (oauth), e.g. https://example.bitrix24.ru.
     *
     * @Column(type="string", nullable=true)
     */
    public $b24_portal = '';

    /**
     * @Column(type="string", nullable=true)
     */
    public $b24_client_id = '';

    /**
     * @Column(type="string", nullable=true)
     */
    public $b24_client_secret = '';

    /**
     * Bitrix24 inbound webhook URL: https://<portal>/rest/<user>/<code>/.
     *
     * @Column(type="string", nullable=true)
     */
    public $b24_webhook_url = '';

    /**
     * Generic webhook receiver URL.
     *
     * @Column(type="string", nullable=true)
     */
    public $webhook_url = '';

    /**
     * HMAC key of the generic webhook (at least 16 characters).
     *
     * @Column(type="string", nullable=true)
     */
    public $webhook_secret = '';

    /**
     * Interception to the client's responsible manager: off, predial or parallel.
     *
     * @Column(type="string", nullable=true, default="off")
     */
    public $interception_mode = 'off';

    /**
     * Seconds the responsible manager rings.
     *
     * @Column(type="integer", nullable=true, default="15")
     */
    public $attempt_seconds = '15';

    /**
     * When interception works, one rule a line ("mon-fri 09:00-18:00"); empty: always.
     *
     * @Column(type="string", nullable=true)
     */
    public $working_hours = '';

    /**
     * Time zone of the working hours (empty: the PBX's own).
     *
     * @Column(type="string", nullable=true)
     */
    public $timezone = '';

    /**
     * Number region (ISO 3166: RU, KZ, BY...): how numbers without their country are read; its
     * trunk and international prefixes come from libphonenumber. Empty: the country code's region.
     *
     * @Column(type="string", nullable=true, default="RU")
     */
    public $number_region = 'RU';

    /**
     * Country code numbers are completed with ("7"); follows the region when one is chosen.
     *
     * @Column(type="string", nullable=true, default="7")
     */
    public $country_code = '7';

    /**
     * Trunk prefix of national numbers in that country ("8").
     *
     * @Column(type="string", nullable=true, default="8")
     */
    public $national_prefix = '8';

    /**
     * The daemon's HTTP port (built-in CRM pages, webhooks, health).
     *
     * @Column(type="integer", nullable=true, default="18090")
     */
    public $http_port = '18090';

    /**
     * The daemon's FastAGI port the dialplan calls.
     *
     * @Column(type="integer", nullable=true, default="4573")
     */
    public $agi_port = '4573';

    /**
     * How CRMs and browsers reach the daemon, e.g. https://pbx.example.ru:18090.
     *
     * @Column(type="string", nullable=true)
     */
    public $public_url = '';

    /**
     * The AMI user's secret, generated at install; never shown on the page.
     *
     * @Column(type="string", nullable=true)
     */
    public $ami_secret = '';

    /**
     * HMAC key of signed recording links, generated at install.
     *
     * @Column(type="string", nullable=true)
     */
    public $link_secret = '';

    /**
     * Admin API token of the daemon, generated at install (the built-in CRM's first sign-in).
     *
     * @Column(type="string", nullable=true)
     */
    public $api_token = '';

    public function initialize(): void
    {
        $this->setSource('m_ModuleCrmConnector');
        parent::initialize();
    }
}
