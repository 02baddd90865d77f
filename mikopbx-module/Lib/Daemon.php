<?php
/*
 * CRM connector module for MikoPBX: the daemon's files and its control script.
 *
 * The YAML and the daemon's state (outbox, call journal, built-in CRM) live in the module's db/
 * folder on the storage disk: MikoPBX copies db/ aside when the module is upgraded or removed
 * with "keep settings", and restores it on the next install, so settings and the outbox survive.
 */

namespace Modules\ModuleCrmConnector\Lib;

class Daemon
{
    private string $moduleDir;
    private string $logDir;

    public function __construct(string $moduleDir, string $logDir)
    {
        $this->moduleDir = rtrim($moduleDir, '/');
        $this->logDir = rtrim($logDir, '/');
    }

    public function configFile(): string
    {
        return $this->moduleDir . '/db/connector.yaml';
    }

    public function logDir(): string
    {
        return $this->logDir;
    }

    /** The shell command running the control script with an action (start, stop, ensure...). */
    public function command(string $action): string
    {
        return '/bin/sh ' . escapeshellarg($this->moduleDir . '/bin/crm-connector-ctl') . ' '
            . escapeshellarg($action) . ' ' . escapeshellarg($this->configFile()) . ' '
            . escapeshellarg($this->logDir);
    }

    /** Runs the control script; returns [exit code, output]. */
    public function run(string $action): array
    {
        $output = [];
        $code = 0;
        exec($this->command($action) . ' 2>&1', $output, $code);
        return [$code, implode("\n", $output)];
    }

    /**
     * Writes the YAML atomically (a half-written file is never read) and readable by root only:
     * it holds the AMI secret and the CRM's credentials.
     */
    public function writeConfig(array $config): bool
    {
        $file = $this->configFile();
        $dir = dirname($file);
        if (!is_dir($dir . '/data') && !mkdir($dir . '/data', 0750, true) && !is_dir($dir . '/data')) {
            return false;
        }
        $header = "Written by the ModuleCrmConnector settings page on every save: edits here are overwritten.\n"
            . "Check it with: crm-connector check-config -c $file";
        $tmp = $file . '.tmp';
        $old = umask(0077);
        $written = file_put_contents($tmp, ConnectorConfig::toYaml($config, $header));
        umask($old);
        return $written !== false && rename($tmp, $file);
    }
}
