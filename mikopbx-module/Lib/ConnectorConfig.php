<?php
/*
 * CRM connector module for MikoPBX.
 *
 * What the module writes for the PBX and for the daemon, from the settings row: the daemon's YAML,
 * the AMI user's manager.conf section and the interception dialplan. Pure functions of their input
 * (no MikoPBX class is touched here), so the tests run them with php-cli alone.
 */

namespace Modules\ModuleCrmConnector\Lib;

class ConnectorConfig
{
    /** The AMI user the module adds to manager.conf (distinct from users made on the AMI page). */
    public const AMI_USER = 'crm-connector-module';

    /** AMI classes the daemon reads: calls, queues (agent), its UserEvents, dialplan variables. */
    public const AMI_READ = ['call', 'agent', 'user', 'dialplan'];

    /** AMI classes the daemon writes: Originate (click-to-call, parallel interception),
     *  Redirect/Setvar/DeviceStateList (call), Hangup and the session's event Filter (system),
     *  the CrmInterception UserEvent marking a parallel attempt (user). */
    public const AMI_WRITE = ['originate', 'call', 'system', 'user'];

    public const CRMS = ['builtin', 'amocrm', 'bitrix24', 'webhook'];
    public const MODES = ['off', 'predial', 'parallel'];
    public const AMO_AUTH_MODES = ['long_lived', 'oauth'];

    /** Regions offered on the page and their country calling codes (numbering.country_code). */
    public const REGIONS = [
        'RU' => '7', 'KZ' => '7', 'BY' => '375', 'UZ' => '998', 'KG' => '996', 'TJ' => '992',
        'AM' => '374', 'AZ' => '994', 'GE' => '995', 'MD' => '373', 'UA' => '380',
    ];

    /** The incoming-route line: MikoPBX sets FROM_DID to the line before the hook's lines run. */
    public const PREDIAL_LINE = 'same => n,Gosub(crm-interception,s,1(${FROM_DID}))';

    /**
     * Checks the settings the page posts; returns field => message key (empty when fine).
     * The daemon's `check-config` stays the final word: this catches what a person mistypes.
     */
    public static function validate(array $s): array
    {
        $errors = [];
        $crm = (string)($s['crm'] ?? '');
        if (!in_array($crm, self::CRMS, true)) {
            $errors['crm'] = 'mod_crm_ErrorCrm';
        }
        if (!in_array((string)($s['interception_mode'] ?? 'off'), self::MODES, true)) {
            $errors['interception_mode'] = 'mod_crm_ErrorMode';
        }
        foreach (['http_port', 'agi_port'] as $key) {
            $port = (string)($s[$key] ?? '');
            if (!ctype_digit($port) || (int)$port < 1 || (int)$port > 65535) {
                $errors[$key] = 'mod_crm_ErrorPort';
            }
        }
        if (($s['http_port'] ?? '') === ($s['agi_port'] ?? '') && !isset($errors['agi_port'])) {
            $errors['agi_port'] = 'mod_crm_ErrorSamePorts';
        }
        $seconds = (string)($s['attempt_seconds'] ?? '15');
        if (!ctype_digit($seconds) || (int)$seconds < 1 || (int)$seconds > 300) {
            $errors['attempt_seconds'] = 'mod_crm_ErrorSeconds';
        }
        $region = (string)($s['number_region'] ?? '');
        if ($region !== '' && !isset(self::REGIONS[$region])) {
            $errors['number_region'] = 'mod_crm_ErrorRegion';
        }
        if ($region === '' && !ctype_digit((string)($s['country_code'] ?? ''))) {
            $errors['country_code'] = 'mod_crm_ErrorCountry';
        }
        $publicUrl = (string)($s['public_url'] ?? '');
        if ($publicUrl !== '' && !preg_match('~^https?://~', $publicUrl)) {
            $errors['public_url'] = 'mod_crm_ErrorUrl';
        }
        foreach (self::hoursLines((string)($s['working_hours'] ?? '')) as $line) {
            if (!preg_match('/^[a-z]{3}(-[a-z]{3})?(,[a-z]{3}(-[a-z]{3})?)* \d\d:\d\d-\d\d:\d\d$/', $line)) {
                $errors['working_hours'] = 'mod_crm_ErrorHours';
            }
        }
        $errors += self::validateCrm($crm, $s);
        foreach ($s as $key => $value) {
            // The daemon reads ${NAME} and ${file:...} as references: a literal one cannot be written.
            if (is_string($value) && strpos($value, '${') !== false) {
                $errors[$key] = 'mod_crm_ErrorReference';
            }
        }
        return $errors;
    }

    private static function validateCrm(string $crm, array $s): array
    {
        $errors = [];
        $empty = static function (string $key) use ($s): bool {
            return trim((string)($s[$key] ?? '')) === '';
        };
        if ($crm === 'amocrm') {
            if ($empty('amo_domain')) {
                $errors['amo_domain'] = 'mod_crm_ErrorRequired';
            }
            $oauth = ($s['amo_auth_mode'] ?? 'long_lived') === 'oauth';
            foreach ($oauth ? ['amo_client_id', 'amo_client_secret', 'amo_redirect_uri'] : ['amo_token'] as $key) {
                if ($empty($key)) {
                    $errors[$key] = 'mod_crm_ErrorRequired';
                }
            }
            if ($empty('public_url')) {
                $errors['public_url'] = 'mod_crm_ErrorPublicUrlAmo';
            }
        } elseif ($crm === 'bitrix24' && ($s['b24_auth_mode'] ?? 'oauth') === 'webhook') {
            if (!preg_match('~^https://[^/]+/rest/\d+/[^/]+/?$~', trim((string)($s['b24_webhook_url'] ?? '')))) {
                $errors['b24_webhook_url'] = 'mod_crm_ErrorB24Url';
            }
        } elseif ($crm === 'bitrix24') {
            if (!preg_match('~^https://[^/]+$~', rtrim(trim((string)($s['b24_portal'] ?? '')), '/'))) {
                $errors['b24_portal'] = 'mod_crm_ErrorB24Portal';
            }
            foreach (['b24_client_id', 'b24_client_secret'] as $key) {
                if ($empty($key)) {
                    $errors[$key] = 'mod_crm_ErrorRequired';
                }
            }
            // The portal sends the application's tokens (ONAPPINSTALL) to the daemon's public address.
            if ($empty('public_url')) {
                $errors['public_url'] = 'mod_crm_ErrorPublicUrlB24';
            }
        } elseif ($crm === 'webhook') {
            if (!preg_match('~^https?://~', trim((string)($s['webhook_url'] ?? '')))) {
                $errors['webhook_url'] = 'mod_crm_ErrorUrl';
            }
            if (strlen(trim((string)($s['webhook_secret'] ?? ''))) < 16) {
                $errors['webhook_secret'] = 'mod_crm_ErrorWebhookSecret';
            }
        }
        return $errors;
    }

    /**
     * The daemon's configuration as nested arrays.
     *
     * $env: data_dir (state on the storage disk), ami_port, cdr_db, monitor_dir, timezone (the PBX's).
     */
    public static function build(array $s, array $env): array
    {
        $mode = (string)($s['interception_mode'] ?? 'off');
        $publicUrl = rtrim(trim((string)($s['public_url'] ?? '')), '/');
        $config = [
            'ami' => [
                'host' => '127.0.0.1',
                'port' => (int)$env['ami_port'],
                'username' => self::AMI_USER,
                'secret' => (string)$s['ami_secret'],
                'events' => self::AMI_READ,
                'cdr_recovery' => ['enabled' => true, 'db_path' => (string)$env['cdr_db']],
            ],
            'http' => [
                'host' => '0.0.0.0',
                'port' => (int)$s['http_port'],
                'public_url' => $publicUrl,
                'link_secret' => (string)$s['link_secret'],
                'tokens' => [
                    ['name' => 'mikopbx-module', 'token' => (string)$s['api_token'], 'extensions' => ['*'], 'role' => 'admin'],
                ],
            ],
            'storage' => [
                'dir' => (string)$env['data_dir'],
                'recordings_dir' => (string)$env['monitor_dir'],
            ],
            'numbering' => self::numbering($s),
            'interception' => [
                'enabled' => $mode !== 'off',
                'mode' => $mode === 'parallel' ? 'parallel' : 'predial',
                'attempt_seconds' => (int)($s['attempt_seconds'] ?? 15),
                'timezone' => trim((string)($s['timezone'] ?? '')) !== '' ? trim((string)$s['timezone']) : (string)$env['timezone'],
                'working_hours' => self::hoursLines((string)($s['working_hours'] ?? '')),
                'dial' => 'Local/{ext}@internal-users',
                'agi_host' => '127.0.0.1',
                'agi_port' => (int)$s['agi_port'],
                'connect_context' => 'crm-interception-connect',
            ],
            'logging' => ['level' => 'info', 'format' => 'json'],
            'adapters' => self::adapters($s),
        ];
        return $config;
    }

    /** A chosen region sets the country code too, so the two never disagree. */
    private static function numbering(array $s): array
    {
        $region = (string)($s['number_region'] ?? '');
        $numbering = [
            'country_code' => self::REGIONS[$region] ?? trim((string)($s['country_code'] ?? '7')),
            'national_prefix' => trim((string)($s['national_prefix'] ?? '')),
        ];
        if (isset(self::REGIONS[$region])) {
            $numbering['region'] = $region;
        }
        return $numbering;
    }

    private static function adapters(array $s): array
    {
        $crm = (string)($s['crm'] ?? 'builtin');
        $adapters = [];
        if ($crm === 'builtin' || (string)($s['builtin_enabled'] ?? '1') === '1') {
            $adapters['builtin'] = ['enabled' => true];
        }
        if ($crm === 'amocrm') {
            $oauth = ($s['amo_auth_mode'] ?? 'long_lived') === 'oauth';
            $auth = $oauth
                ? [
                    'mode' => 'oauth',
                    'client_id' => trim((string)$s['amo_client_id']),
                    'client_secret' => trim((string)$s['amo_client_secret']),
                    'redirect_uri' => trim((string)$s['amo_redirect_uri']),
                    'auth_code' => trim((string)($s['amo_auth_code'] ?? '')),
                ]
                : ['mode' => 'long_lived', 'long_lived_token' => trim((string)$s['amo_token'])];
            $adapters['amocrm'] = ['enabled' => true, 'domain' => trim((string)$s['amo_domain']), 'auth' => $auth];
        } elseif ($crm === 'bitrix24' && ($s['b24_auth_mode'] ?? 'oauth') === 'webhook') {
            $adapters['bitrix24'] = [
                'enabled' => true,
                'auth' => 'webhook',
                'webhook_url' => trim((string)$s['b24_webhook_url']),
            ];
        } elseif ($crm === 'bitrix24') {
            $adapters['bitrix24'] = [
                'enabled' => true,
                'auth' => 'oauth',
                'portal' => rtrim(trim((string)$s['b24_portal']), '/'),
                'client_id' => trim((string)$s['b24_client_id']),
                'client_secret' => trim((string)$s['b24_client_secret']),
            ];
        } elseif ($crm === 'webhook') {
            $adapters['webhook'] = [
                'enabled' => true,
                'url' => trim((string)$s['webhook_url']),
                'secret' => trim((string)$s['webhook_secret']),
            ];
        }
        return $adapters;
    }

    /** Non-empty, trimmed, lower-case lines of the working-hours field. */
    public static function hoursLines(string $text): array
    {
        $lines = preg_split('/\r\n|\r|\n/', strtolower($text)) ?: [];
        return array_values(array_filter(array_map('trim', $lines), 'strlen'));
    }

    /**
     * YAML the daemon reads: every string double-quoted as JSON (a subset of YAML's double-quoted
     * style), numbers and booleans bare, so no value is ever read as something else.
     */
    public static function toYaml(array $config, string $header = ''): string
    {
        $out = '';
        foreach (preg_split('/\n/', trim($header)) ?: [] as $line) {
            if ($line !== '') {
                $out .= '# ' . $line . "\n";
            }
        }
        return $out . self::yamlMapping($config, 0);
    }

    private static function yamlMapping(array $map, int $depth): string
    {
        $pad = str_repeat('  ', $depth);
        $out = '';
        foreach ($map as $key => $value) {
            $name = preg_match('/^[A-Za-z_][A-Za-z0-9_]*$/', (string)$key) ? (string)$key : self::yamlScalar((string)$key);
            if (is_array($value) && $value !== [] && !self::isList($value)) {
                $out .= "$pad$name:\n" . self::yamlMapping($value, $depth + 1);
            } elseif (is_array($value) && $value !== [] && is_array(reset($value))) {
                $out .= "$pad$name:\n";
                foreach ($value as $item) {
                    $body = self::yamlMapping($item, $depth + 2);
                    $out .= $pad . '  - ' . ltrim($body);
                }
            } elseif (is_array($value)) {
                $out .= "$pad$name: " . ($value === [] && !self::isList($value) ? '{}' : '[' . implode(', ', array_map([self::class, 'yamlScalar'], $value)) . ']') . "\n";
            } else {
                $out .= "$pad$name: " . self::yamlScalar($value) . "\n";
            }
        }
        return $out;
    }

    private static function isList(array $value): bool
    {
        return $value === [] || array_keys($value) === range(0, count($value) - 1);
    }

    /** @param mixed $value */
    public static function yamlScalar($value): string
    {
        if (is_bool($value)) {
            return $value ? 'true' : 'false';
        }
        if (is_int($value) || is_float($value)) {
            return (string)$value;
        }
        if ($value === null) {
            return 'null';
        }
        return (string)json_encode((string)$value, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
    }

    /** The AMI user's manager.conf section: loopback only, only the classes the daemon needs. */
    public static function managerSection(string $secret): string
    {
        return '[' . self::AMI_USER . "]\n"
            . "secret=$secret\n"
            . "deny=0.0.0.0/0.0.0.0\n"
            . "permit=127.0.0.1/255.255.255.255\n"
            . 'read=' . implode(',', self::AMI_READ) . "\n"
            . 'write=' . implode(',', self::AMI_WRITE) . "\n"
            . "writetimeout=2000\n";
    }

    /** [globals] line telling the interception context where the daemon's FastAGI listens. */
    public static function globalsLines(int $agiPort): string
    {
        return "CRM_AGI=127.0.0.1:$agiPort\n";
    }

    /** The incoming route's pre-dial line (predial mode only; nothing otherwise). */
    public static function incomingBeforeDial(string $mode): string
    {
        return $mode === 'predial' ? "\t" . self::PREDIAL_LINE . "\n" : '';
    }

    /**
     * The interception contexts, read from the snippet the zip ships (asterisk/crm-interception.conf,
     * the same file plain-Asterisk installs include), without its comments.
     */
    public static function contexts(string $snippetFile): string
    {
        $text = @file_get_contents($snippetFile);
        if ($text === false) {
            return '';
        }
        $kept = [];
        foreach (preg_split('/\r\n|\r|\n/', $text) ?: [] as $line) {
            $trimmed = trim($line);
            if ($trimmed === '' || $trimmed[0] === ';') {
                continue;
            }
            if ($trimmed[0] === '[') {
                $kept[] = '';
            }
            $kept[] = $line;
        }
        return trim(implode("\n", $kept)) . "\n";
    }
}
