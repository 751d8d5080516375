/**
 * The page an invite link opens when the extension is not installed (with it installed, the
 * extension takes the tab over before this matters). English and Traditional Chinese, chosen by
 * Accept-Language, with the other language one click away. No script reads the URL fragment.
 */

const TEXT = {
  en: {
    lang: 'en',
    title: 'You are invited to a PartyChat room',
    lead: 'Someone sent you an invite to an end-to-end encrypted group chat.',
    how: 'To join, install the PartyChat browser extension, then open this link again (or paste it into PartyChat under “Join with a link”).',
    install: 'Get PartyChat: install the extension for Chrome or Firefox from the person who runs this server, or build it from the project’s source (npm run build).',
    privacy: 'This server only relays encrypted messages. The secret part of your link (after the #) never leaves your browser.',
    other: '繁體中文',
  },
  'zh-TW': {
    lang: 'zh-Hant-TW',
    title: '你受邀加入一個 PartyChat 聊天室',
    lead: '有人邀請你加入一個端對端加密的群組聊天。',
    how: '要加入，請先安裝 PartyChat 瀏覽器擴充功能，然後再次開啟這個連結（或在 PartyChat 的「用連結加入」貼上它）。',
    install: '取得 PartyChat：向架設這台伺服器的人取得 Chrome 或 Firefox 擴充功能，或從專案原始碼自行建置（npm run build）。',
    privacy: '這台伺服器只轉送加密過的訊息。連結中 # 之後的祕密部分永遠不會離開你的瀏覽器。',
    other: 'English',
  },
} as const;

export function pickLanguage(acceptLanguage: string): keyof typeof TEXT {
  return /(^|,)\s*zh(-(tw|hant|hk|mo))?\b/i.test(acceptLanguage) && !/(^|,)\s*zh-(cn|hans|sg)\b/i.test(acceptLanguage.split(',')[0] ?? '')
    ? 'zh-TW'
    : 'en';
}

function section(lang: keyof typeof TEXT, hidden: boolean): string {
  const t = TEXT[lang];
  return `<section lang="${t.lang}" id="${lang}"${hidden ? ' hidden' : ''}>
  <h1>${t.title}</h1>
  <p>${t.lead}</p>
  <p>${t.how}</p>
  <p>${t.install}</p>
  <p class="small">${t.privacy}</p>
  <p><a href="#" data-show="${lang === 'en' ? 'zh-TW' : 'en'}">${t.other}</a></p>
</section>`;
}

export function landingPage(acceptLanguage: string): string {
  const lang = pickLanguage(acceptLanguage);
  return `<!doctype html>
<html lang="${TEXT[lang].lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="partychat-invite" content="1">
<title>PartyChat</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; color: #1f2937; }
  h1 { font-size: 1.4rem; }
  .small { color: #6b7280; font-size: .9rem; }
  @media (prefers-color-scheme: dark) { body { background: #111827; color: #e5e7eb; } .small { color: #9ca3af; } a { color: #93c5fd; } }
</style>
</head>
<body>
${section('en', lang !== 'en')}
${section('zh-TW', lang !== 'zh-TW')}
<script>
  for (const a of document.querySelectorAll('[data-show]')) a.addEventListener('click', (e) => {
    e.preventDefault();
    for (const s of document.querySelectorAll('section')) s.hidden = s.id !== a.dataset.show;
  });
</script>
</body>
</html>`;
}
