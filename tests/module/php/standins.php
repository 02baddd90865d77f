<?php
/*
 * Stand-ins of the MikoPBX classes the module's PHP uses, written from the real signatures in
 * mikopbx/Core (src/Modules/Config/ConfigClass.php, src/Core/Asterisk/Configs/AsteriskConfigClass.php,
 * src/Modules/Setup/PbxExtensionSetupBase.php, src/Modules/Models/ModulesModelsBase.php,
 * src/Common/Models/PbxSettings.php, src/Core/System/Directories.php, PBXApiResult). Hook methods
 * keep the real signatures, so an override that does not match them is a fatal error here as on
 * the PBX. State lives in StandIn, which the test runner fills and reads.
 */

namespace {
    final class StandIn
    {
        public static array $pbxSettings = [];
        public static array $dirs = [];
        public static string $modulesDir = '';
        public static array $reloads = [];
        public static array $rows = [];
    }
}

namespace Phalcon\Config {
    class Config
    {
        public function path(string $path, $default = null)
        {
            return $path === 'core.modulesDir' ? \StandIn::$modulesDir : $default;
        }
    }
}

namespace MikoPBX\Common\Models {
    class PbxSettings
    {
        public const PBX_TIMEZONE = 'PBXTimezone';
        public const AMI_PORT = 'AMIPort';

        public static function getValueByKey(string $key, bool $useCache = true): string
        {
            return (string)(\StandIn::$pbxSettings[$key] ?? '');
        }
    }
}

namespace MikoPBX\Core\System {
    class Directories
    {
        public const CORE_MODULES_DIR = 'core.modulesDir';
        public const CORE_LOGS_DIR = 'core.logsDir';
        public const AST_LOG_DIR = 'asterisk.astlogdir';
        public const AST_MONITOR_DIR = 'asterisk.monitordir';

        public static function getDir(string $dirConstant): string
        {
            return (string)(\StandIn::$dirs[$dirConstant] ?? '');
        }
    }

    class Processes
    {
    }
}

namespace MikoPBX\PBXCoreREST\Lib {
    class PBXApiResult
    {
        public bool $success = false;
        public array $data = [];
        public array $messages = [];
        public string $processor = '';
    }
}

namespace MikoPBX\Core\Asterisk\Configs {
    class AsteriskConfigClass
    {
        protected int $priority = 1000;
        protected \Phalcon\Config\Config $config;
        protected array $messages = [];

        public function __construct()
        {
            $this->config = new \Phalcon\Config\Config();
        }

        public function generateManagerConf(): string
        {
            return '';
        }

        public function extensionGlobals(): string
        {
            return '';
        }

        public function extensionGenContexts(): string
        {
            return '';
        }

        public function generateIncomingRoutBeforeDial(string $rout_number): string
        {
            return '';
        }

        public function getMethodPriority(string $methodName = ''): int
        {
            return $this->priority;
        }
    }

    class ManagerConf
    {
        public static function reload(): void
        {
            \StandIn::$reloads[] = 'manager';
        }
    }

    class ExtensionsConf
    {
        public static function reload(): void
        {
            \StandIn::$reloads[] = 'extensions';
        }
    }
}

namespace MikoPBX\Modules\Config {
    use MikoPBX\Core\Asterisk\Configs\AsteriskConfigClass;
    use MikoPBX\PBXCoreREST\Lib\PBXApiResult;

    abstract class ConfigClass extends AsteriskConfigClass
    {
        protected int $priority = 10000;
        public string $moduleUniqueId;
        protected string $moduleDir;

        public function __construct()
        {
            parent::__construct();
            // As the real one: the module's id and folder from the child's namespace.
            $parts = explode('\\', (new \ReflectionClass(static::class))->getNamespaceName());
            if (count($parts) === 3 && $parts[0] === 'Modules') {
                $this->moduleUniqueId = $parts[1];
                $this->moduleDir = $this->config->path('core.modulesDir') . '/' . $this->moduleUniqueId;
            }
        }

        public function moduleRestAPICallback(array $request): PBXApiResult
        {
            return new PBXApiResult();
        }

        public function modelsEventChangeData($data): void
        {
        }

        public function getDefaultFirewallRules(): array
        {
            return [];
        }

        public function onAfterModuleEnable(): void
        {
        }

        public function onAfterModuleDisable(): void
        {
        }

        public function createCronTasks(array &$tasks): void
        {
        }

        public function onAfterPbxStarted(): void
        {
        }
    }
}

namespace MikoPBX\Modules\Models {
    class ModulesModelsBase
    {
        public function initialize(): void
        {
        }

        public function setSource(string $source): void
        {
        }

        /** @return static|null */
        public static function findFirst($parameters = null)
        {
            $row = \StandIn::$rows[static::class] ?? null;
            if ($row === null) {
                return null;
            }
            $model = new static();
            foreach ($row as $key => $value) {
                $model->$key = $value;
            }
            return $model;
        }

        public function save($data = null, $whiteList = null): bool
        {
            $row = $this->toArray();
            $row['id'] = $row['id'] ?? 1;
            \StandIn::$rows[static::class] = $row;
            return true;
        }

        public function toArray($columns = null, $useGetter = true): array
        {
            return get_object_vars($this);
        }
    }
}

namespace MikoPBX\Modules\Setup {
    abstract class PbxExtensionSetupBase
    {
        protected string $moduleUniqueID;
        protected array $messages = [];

        public function __construct(string $moduleUniqueID)
        {
            $this->moduleUniqueID = $moduleUniqueID;
        }

        public function createSettingsTableByModelsAnnotations(): bool
        {
            return true;
        }

        public function registerNewModule(): bool
        {
            return true;
        }

        public function addToSidebar(): bool
        {
            return true;
        }

        public function installDB(): bool
        {
            return true;
        }

        public function unInstallDB(bool $keepSettings = false): bool
        {
            return true;
        }
    }
}
