import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { renderConfigurationDoc, renderOptionHelp } from '../../src/config/config-doc.js';
import { OPTIONS, OPTION_NAMES } from '../../src/config/options.js';

describe('configuration docs from the option table', () => {
  it('docs/configuration.md is what the table renders (regenerate with `koala config-doc`)', async () => {
    const onDisk = await readFile(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    expect(onDisk).to.equal(renderConfigurationDoc());
  });

  it('every option appears in --help with its env var and flag', () => {
    const help = renderOptionHelp();
    for (const name of OPTION_NAMES) {
      expect(help).to.contain(`--${OPTIONS[name].flag} `);
      expect(help).to.contain(OPTIONS[name].env);
    }
  });

  it('every default parses back to itself through the option parser', () => {
    for (const name of OPTION_NAMES) {
      const spec = OPTIONS[name];
      if (spec.defaultText.startsWith('none') || name === 'agentSocket') continue;
      expect(spec.parse(spec.defaultText as never), name).to.deep.equal(spec.default());
    }
  });
});
