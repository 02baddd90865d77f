<?php
/*
 * CRM connector module for MikoPBX: install and uninstall.
 *
 * Install: the settings table from the model's annotations, the module registered and put in the
 * sidebar, and on the first install only the secrets generated (AMI user, signed links, the admin
 * API token). An upgrade keeps the row: MikoPBX restores the module's db/ folder first.
 * Uninstall: the daemon is stopped; the db/ folder (settings, YAML, outbox, built-in CRM) is kept
 * by MikoPBX when "keep settings" is ticked and removed otherwise.
 */

namespace Modules\ModuleCrmConnector\Setup;

use MikoPBX\Modules\Setup\PbxExtensionSetupBase;
use Modules\ModuleCrmConnector\Lib\CrmConnectorConf;
use Modules\ModuleCrmConnector\Models\ModuleCrmConnector;

class PbxExtensionSetup extends PbxExtensionSetupBase
{
    public function installDB(): bool
    {
        $result = $this->createSettingsTableByModelsAnnotations();
        if ($result) {
            $result = $this->registerNewModule();
        }
        if ($result) {
            $result = $this->addToSidebar();
        }
        if ($result) {
            $result = self::ensureSettings();
        }
        return $result;
    }

    /** The settings row with its secrets; existing secrets are never replaced. */
    public static function ensureSettings(): bool
    {
        $settings = ModuleCrmConnector::findFirst();
        if (!$settings) {
            $settings = new ModuleCrmConnector();
        }
        foreach (['ami_secret' => 16, 'link_secret' => 24, 'api_token' => 24] as $field => $bytes) {
            if (empty($settings->$field)) {
                $settings->$field = bin2hex(random_bytes($bytes));
            }
        }
        return $settings->save();
    }

    public function unInstallDB(bool $keepSettings = false): bool
    {
        // The daemon holds the outbox open: stop it before MikoPBX copies or removes db/.
        $conf = new CrmConnectorConf();
        $conf->daemon()->run('stop');
        return parent::unInstallDB($keepSettings);
    }
}
