<?php
/*
 * CRM connector module for MikoPBX: the hooks MikoPBX calls.
 *
 * Instead of the manual steps of a plain-Linux install: the AMI user goes into manager.conf through
 * generateManagerConf, the interception line into every incoming route through
 * generateIncomingRoutBeforeDial (after MikoPBX's own time conditions), the interception contexts
 * through extensionGenContexts; the daemon starts on enable and PBX start, a cron line keeps it
 * alive, disable stops it; every save of the settings rewrites its YAML and restarts it.
 */

namespace Modules\ModuleCrmConnector\Lib;

use MikoPBX\Common\Models\PbxSettings;
use MikoPBX\Core\Asterisk\Configs\ExtensionsConf;
use MikoPBX\Core\Asterisk\Configs\ManagerConf;
use MikoPBX\Core\System\Directories;
use MikoPBX\Core\System\Processes;
use MikoPBX\Modules\Config\ConfigClass;
use MikoPBX\PBXCoreREST\Lib\PBXApiResult;
use Modules\ModuleCrmConnector\Models\ModuleCrmConnector;

class CrmConnectorConf extends ConfigClass
{
    /** The settings row as an array (defaults when the row is missing). */
    public function settings(): array
    {
        // Phalcon answers null (5.x) or false (4.x) when there is no row.
        $record = ModuleCrmConnector::findFirst();
        return $record ? $record->toArray() : (new ModuleCrmConnector())->toArray();
    }

    /** manager.conf: the daemon's AMI user (loopback only, only the classes it needs). */
    public function generateManagerConf(): string
    {
        $secret = (string)($this->settings()['ami_secret'] ?? '');
        if ($secret === '') {
            return '';
        }
        return ConnectorConfig::managerSection($secret);
    }

    /** extensions.conf [globals]: where the daemon's FastAGI listens. */
    public function extensionGlobals(): string
    {
        return ConnectorConfig::globalsLines((int)($this->settings()['agi_port'] ?? 4573));
    }

    /** extensions.conf: the interception contexts (pre-dial Gosub target, parallel connect). */
    public function extensionGenContexts(): string
    {
        return ConnectorConfig::contexts($this->moduleDir . '/asterisk/crm-interception.conf');
    }

    /** Each incoming route, before it dials: ask the daemon whose client is calling (predial). */
    public function generateIncomingRoutBeforeDial(string $rout_number): string
    {
        return ConnectorConfig::incomingBeforeDial((string)($this->settings()['interception_mode'] ?? 'off'));
    }

    /** The daemon's HTTP port (built-in CRM pages, CRM webhooks) in MikoPBX's firewall. */
    public function getDefaultFirewallRules(): array
    {
        $port = (int)($this->settings()['http_port'] ?? 18090);
        return [
            'ModuleCrmConnector' => [
                'rules' => [
                    ['portfrom' => $port, 'portto' => $port, 'protocol' => 'tcp', 'name' => 'CrmConnectorHttp'],
                ],
                'action' => 'allow',
                'shortName' => 'CRM connector',
            ],
        ];
    }

    /** Cron keeps the daemon alive: `ensure` starts it only when it is not running. */
    public function createCronTasks(array &$tasks): void
    {
        $daemon = $this->daemon();
        $tasks[] = '*/1 * * * * ' . $daemon->command('ensure') . ' > /dev/null 2>&1' . PHP_EOL;
    }

    public function onAfterModuleEnable(): void
    {
        $this->applySettings(false);
    }

    public function onAfterPbxStarted(): void
    {
        $this->applySettings(false);
    }

    public function onAfterModuleDisable(): void
    {
        $this->daemon()->run('stop');
    }

    /** A save on the settings page: new YAML, the daemon restarted, AMI user and dialplan regenerated. */
    public function modelsEventChangeData($data): void
    {
        if (($data['model'] ?? '') !== ModuleCrmConnector::class) {
            return;
        }
        $this->applySettings(true);
        ManagerConf::reload();
        ExtensionsConf::reload();
    }

    /**
     * REST (/pbxcore/api/modules/ModuleCrmConnector/<action>): status reads the daemon's /healthz,
     * check validates the written YAML, restart applies the settings again.
     */
    public function moduleRestAPICallback(array $request): PBXApiResult
    {
        $res = new PBXApiResult();
        $res->processor = __METHOD__;
        $action = strtoupper((string)($request['action'] ?? ''));
        if ($action === 'STATUS') {
            $res->data = $this->status();
            $res->success = true;
        } elseif ($action === 'RESTART') {
            $res->success = $this->applySettings(true);
        } elseif ($action === 'CHECK') {
            [$code, $output] = $this->daemon()->run('check');
            $res->success = $code === 0;
            $res->messages = $code === 0 ? [] : ['error' => [$output]];
        } else {
            $res->success = false;
            $res->messages['error'][] = 'Unknown action ' . $action;
        }
        return $res;
    }

    /** What the status panel shows: running, AMI connected, outbox depth and dead letters. */
    public function status(): array
    {
        $settings = $this->settings();
        [$running] = $this->daemon()->run('status');
        $health = HealthClient::read('127.0.0.1', (int)($settings['http_port'] ?? 18090), 2.0);
        return [
            'running' => $running === 0,
            'health' => $health,
            'crmUrl' => $this->crmUrl($settings),
        ];
    }

    /** The built-in CRM's address: the public URL when set, else the PBX's address and the port. */
    public function crmUrl(array $settings): string
    {
        $base = rtrim((string)($settings['public_url'] ?? ''), '/');
        if ($base === '') {
            $host = $_SERVER['HTTP_HOST'] ?? '127.0.0.1';
            $host = preg_replace('/:\d+$/', '', (string)$host);
            $base = 'http://' . $host . ':' . (int)($settings['http_port'] ?? 18090);
        }
        return $base . '/crm/';
    }

    /** Writes the YAML from the settings, then starts (or restarts) the daemon. */
    public function applySettings(bool $restart): bool
    {
        $daemon = $this->daemon();
        $config = ConnectorConfig::build($this->settings(), $this->environment());
        if (!$daemon->writeConfig($config)) {
            return false;
        }
        [$code] = $daemon->run($restart ? 'restart' : 'start');
        return $code === 0;
    }

    /** Where things live on this PBX: state and logs on the storage disk, never the root fs. */
    public function environment(): array
    {
        return [
            'data_dir' => $this->moduleDir . '/db/data',
            'ami_port' => PbxSettings::getValueByKey('AMIPort') ?: '5038',
            'cdr_db' => Directories::getDir(Directories::AST_LOG_DIR) . '/cdr.db',
            'monitor_dir' => Directories::getDir(Directories::AST_MONITOR_DIR),
            'timezone' => PbxSettings::getValueByKey('PBXTimezone') ?: 'Europe/Moscow',
        ];
    }

    public function daemon(): Daemon
    {
        return new Daemon(
            $this->moduleDir,
            Directories::getDir(Directories::CORE_LOGS_DIR) . '/' . $this->moduleUniqueId
        );
    }
}
