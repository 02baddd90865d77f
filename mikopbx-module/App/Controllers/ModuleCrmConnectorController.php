<?php
/*
 * CRM connector module for MikoPBX: the settings page.
 *
 * index shows the form and the status panel; save checks the fields, then lets the daemon itself
 * check the YAML they make (`crm-connector check-config`) before anything is stored, so a setting
 * the daemon would refuse never reaches the running PBX; status feeds the panel from /healthz.
 */

namespace Modules\ModuleCrmConnector\App\Controllers;

use MikoPBX\AdminCabinet\Controllers\BaseController;
use MikoPBX\AdminCabinet\Providers\AssetProvider;
use MikoPBX\Modules\PbxExtensionUtils;
use Modules\ModuleCrmConnector\App\Forms\ModuleCrmConnectorForm;
use Modules\ModuleCrmConnector\Lib\ConnectorConfig;
use Modules\ModuleCrmConnector\Lib\CrmConnectorConf;
use Modules\ModuleCrmConnector\Lib\Daemon;
use Modules\ModuleCrmConnector\Models\ModuleCrmConnector;

class ModuleCrmConnectorController extends BaseController
{
    private string $moduleUniqueID = 'ModuleCrmConnector';
    private string $moduleDir;

    /** Fields the page edits (the secrets are generated at install and never posted). */
    private const FIELDS = [
        'crm', 'builtin_enabled', 'amo_domain', 'amo_auth_mode', 'amo_token', 'amo_client_id',
        'amo_client_secret', 'amo_redirect_uri', 'amo_auth_code', 'b24_auth_mode', 'b24_portal',
        'b24_client_id', 'b24_client_secret', 'b24_webhook_url', 'webhook_url',
        'webhook_secret', 'interception_mode', 'attempt_seconds', 'working_hours', 'timezone',
        'number_region', 'country_code', 'national_prefix', 'http_port', 'agi_port', 'public_url',
    ];

    public function initialize(): void
    {
        $this->moduleDir = PbxExtensionUtils::getModuleDir($this->moduleUniqueID);
        $this->view->logoImagePath = $this->url->get() . 'assets/img/cache/' . $this->moduleUniqueID . '/logo.svg';
        $this->view->submitMode = null;
        parent::initialize();
    }

    public function indexAction(): void
    {
        $footer = $this->assets->collection(AssetProvider::FOOTER_JS);
        $footer->addJs('js/pbx/main/form.js', true);
        $footer->addJs('js/cache/' . $this->moduleUniqueID . '/module-crm-connector-index.js', true);
        $header = $this->assets->collection(AssetProvider::HEADER_CSS);
        $header->addCss('css/cache/' . $this->moduleUniqueID . '/module-crm-connector.css', true);

        $settings = (ModuleCrmConnector::findFirst() ?: new ModuleCrmConnector());
        $this->view->form = new ModuleCrmConnectorForm($settings);
        $this->view->apiToken = (string)$settings->api_token;
        $this->view->pick('Modules/' . $this->moduleUniqueID . '/ModuleCrmConnector/index');
    }

    public function saveAction(): void
    {
        if (!$this->request->isPost()) {
            return;
        }
        $data = $this->request->getPost();
        $record = (ModuleCrmConnector::findFirst() ?: new ModuleCrmConnector());
        foreach (self::FIELDS as $key) {
            if ($key === 'builtin_enabled') {
                $record->$key = (($data[$key] ?? '') === 'on' || ($data[$key] ?? '') === '1') ? '1' : '0';
            } else {
                $record->$key = trim((string)($data[$key] ?? ''));
            }
        }
        $errors = ConnectorConfig::validate($record->toArray());
        if ($errors === []) {
            $problem = $this->daemonRefuses($record->toArray());
            if ($problem !== '') {
                $errors['crm'] = 'mod_crm_ErrorCheckConfig';
                $this->flash->error($this->translation->_('mod_crm_ErrorCheckConfig') . ': ' . htmlspecialchars($problem));
            }
        }
        if ($errors !== []) {
            foreach ($errors as $field => $messageKey) {
                $this->flash->error($field . ': ' . $this->translation->_($messageKey));
            }
            $this->view->success = false;
            return;
        }
        // The model event (modelsEventChangeData) writes the YAML and restarts the daemon.
        $this->saveEntity($record);
    }

    /** The status panel's data (JSON): running, AMI, outbox depth and dead letters. */
    public function statusAction(): void
    {
        $conf = new CrmConnectorConf();
        $this->view->disable();
        $this->response->setJsonContent($conf->status());
        $this->response->send();
    }

    /** Runs the daemon's own check on the YAML these settings make; '' when it accepts it. */
    private function daemonRefuses(array $settings): string
    {
        $conf = new CrmConnectorConf();
        $config = ConnectorConfig::build($settings, $conf->environment());
        // On the storage disk like everything of the module (the YAML holds secrets).
        $probeDir = $this->moduleDir . '/db/.check-' . bin2hex(random_bytes(4));
        $probe = new Daemon($probeDir, $probeDir);
        if (!is_dir($this->moduleDir . '/bin/crm-connector') || !$probe->writeConfig($config)) {
            return '';
        }
        $output = [];
        $code = 0;
        exec(escapeshellarg($this->moduleDir . '/bin/crm-connector/crm-connector') . ' check-config -q -c '
            . escapeshellarg($probe->configFile()) . ' 2>&1', $output, $code);
        exec('rm -rf ' . escapeshellarg($probeDir));
        return $code === 0 ? '' : implode(' ', $output);
    }
}
