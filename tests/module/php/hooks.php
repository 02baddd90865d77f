<?php
/*
 * Runs the module's hooks against the stand-ins and prints what they produce, as JSON.
 *
 * Usage: php hooks.php INPUT.json   where INPUT holds modules_dir (with ModuleCrmConnector/ in it,
 * laid out as the zip), pbx_settings, dirs, row (settings stored before install, or null),
 * changes (fields the page saves after install) and actions (install, set, save, enable, disable,
 * status, uninstall).
 */

require __DIR__ . '/standins.php';

$input = json_decode(file_get_contents($argv[1]), true, 512, JSON_THROW_ON_ERROR);
StandIn::$modulesDir = $input['modules_dir'];
StandIn::$pbxSettings = $input['pbx_settings'] ?? [];
StandIn::$dirs = $input['dirs'] ?? [];
$moduleDir = $input['modules_dir'] . '/ModuleCrmConnector';

spl_autoload_register(static function (string $class) use ($moduleDir): void {
    $prefix = 'Modules\\ModuleCrmConnector\\';
    if (strpos($class, $prefix) === 0) {
        $file = $moduleDir . '/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});

use Modules\ModuleCrmConnector\Lib\ConnectorConfig;
use Modules\ModuleCrmConnector\Lib\CrmConnectorConf;
use Modules\ModuleCrmConnector\Models\ModuleCrmConnector;
use Modules\ModuleCrmConnector\Setup\PbxExtensionSetup;

if (isset($input['row'])) {
    StandIn::$rows[ModuleCrmConnector::class] = $input['row'];
}
$out = ['actions' => []];
foreach ($input['actions'] ?? [] as $action) {
    $conf = new CrmConnectorConf();
    switch ($action) {
        case 'install':
            $out['actions'][] = [$action, (new PbxExtensionSetup('ModuleCrmConnector'))->installDB()];
            break;
        case 'save':
            $record = ModuleCrmConnector::findFirst();
            foreach ($input['changes'] ?? [] as $key => $value) {
                $record->$key = $value;
            }
            $out['validate'] = ConnectorConfig::validate($record->toArray());
            $record->save();
            $conf->modelsEventChangeData(['model' => ModuleCrmConnector::class, 'recordId' => 1]);
            $out['actions'][] = [$action, StandIn::$reloads];
            break;
        case 'set':
            // The row changed without the model event: what a page save stores, nothing started.
            $record = ModuleCrmConnector::findFirst();
            foreach ($input['changes'] ?? [] as $key => $value) {
                $record->$key = $value;
            }
            $record->save();
            break;
        case 'enable':
            $conf->onAfterModuleEnable();
            $out['actions'][] = [$action, true];
            break;
        case 'disable':
            $conf->onAfterModuleDisable();
            $out['actions'][] = [$action, true];
            break;
        case 'status':
            $out['status'] = $conf->status();
            break;
        case 'uninstall':
            $out['actions'][] = [$action, (new PbxExtensionSetup('ModuleCrmConnector'))->unInstallDB(true)];
            break;
    }
}
$conf = new CrmConnectorConf();
$tasks = [];
$conf->createCronTasks($tasks);
$settings = $conf->settings();
$out += [
    'row' => $settings,
    'manager' => $conf->generateManagerConf(),
    'globals' => $conf->extensionGlobals(),
    'contexts' => $conf->extensionGenContexts(),
    'before_dial' => $conf->generateIncomingRoutBeforeDial('74951110001'),
    'firewall' => $conf->getDefaultFirewallRules(),
    'cron' => $tasks,
    'environment' => $conf->environment(),
    'yaml' => ConnectorConfig::toYaml(ConnectorConfig::build($settings, $conf->environment())),
    'validate_now' => ConnectorConfig::validate($settings),
    'config_file' => $conf->daemon()->configFile(),
    'regions' => ConnectorConfig::REGIONS,
];
echo json_encode($out, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRETTY_PRINT), "\n";
