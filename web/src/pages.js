// The app's pages besides the map (lazy routes): one line per page — the only shared edit when adding one.
// Each entry: {path, name, title, component, action?, menu?, bar?, bare?}
//   action  the /api/auth/me `actions` entry the caller needs to see the page in the menu (the server
//           still decides every request; a page without `action` is shown to everyone)
//   menu    the menu group (业务 / 分析 / 数据 / 管理); pages without it are reached by links only
//   bar     also shown as a link in the top bar on wide screens (the few pages used all day)
//   bare    no top bar (login, the public reporting page)
//   early   route → the URLs the page reads first, sent while its code is still on the way (lib/early.js)
import {dashboardUrl, initialDay} from './features/dashboard/query.js';
import {inboxUrl, initialFilters} from './features/inbox/query.js';

export const pages = [
    {path: '/login', name: 'login', title: '登录', bare: true, component: () => import('./features/login/LoginPage.vue')},
    {path: '/report', name: 'public-report', title: '公众举报', bare: true, component: () => import('./features/public/ReportPage.vue')},
    {path: '/track/:number', name: 'public-track', title: '举报进度', bare: true, component: () => import('./features/public/TrackPage.vue')},
    {path: '/intake', name: 'intake', title: '受理', menu: '业务', bar: true, action: 'cases.intake', component: () => import('./features/intake/IntakePage.vue')},
    {path: '/inbox', name: 'inbox', title: '待办', menu: '业务', bar: true, action: 'cases.inbox', component: () => import('./features/inbox/InboxPage.vue'),
        early: route => [inboxUrl(initialFilters(route.query))]},
    {path: '/patrol', name: 'patrol-report', title: '巡查上报', menu: '业务', bar: true, action: 'cases.intake.patrol', component: () => import('./features/field/PatrolReportPage.vue')},
    {path: '/cases/:id(\\d+)', name: 'case-detail', title: '案件详情', component: () => import('./features/cases/CaseDetailPage.vue')},
    {path: '/assessment', name: 'assessment', title: '运维考核', menu: '分析', action: 'assessment.read', component: () => import('./features/assessment/AssessmentPage.vue')},
    {path: '/evaluation', name: 'evaluation', title: '综合评价', menu: '分析', action: 'evaluation.read', component: () => import('./features/evaluation/EvaluationPage.vue')},
    {path: '/supervision', name: 'supervision', title: '督办中心', action: 'supervision.read', menu: '业务', component: () => import('./features/supervision/SupervisionPage.vue')},
    {path: '/dashboard', name: 'dashboard', title: '领导驾驶舱', action: 'dashboard.read', menu: '分析', bar: true, component: () => import('./features/dashboard/DashboardPage.vue'),
        early: route => [dashboardUrl({day: initialDay(route.query)})]},
    {path: '/admin/users', name: 'admin-users', title: '用户管理', action: 'admin.users', menu: '管理', component: () => import('./features/admin/UsersPage.vue')},
    {path: '/admin/keys', name: 'admin-keys', title: '接口密钥', action: 'admin.keys', menu: '管理', component: () => import('./features/admin/KeysPage.vue')},
    {path: '/admin/audit', name: 'admin-audit', title: '审计日志', action: 'audit.read', menu: '管理', component: () => import('./features/admin/AuditPage.vue')},
    {path: '/workflows', name: 'workflows', title: '流程管理', menu: '管理', action: 'workflows.read', component: () => import('./features/workflows/WorkflowsPage.vue')},
    {path: '/workflows/:code', name: 'workflow-designer', title: '流程设计', action: 'workflows.read', component: () => import('./features/workflows/WorkflowDesignerPage.vue')},
    {path: '/exchange', name: 'exchange', title: '区平台对接', menu: '管理', action: 'exchange.monitor', component: () => import('./features/exchange/ExchangePage.vue')},
    {path: '/survey', name: 'survey', title: '普查工作台', menu: '数据', action: 'survey.upload', component: () => import('./features/survey/SurveyPage.vue')},
];

export const MENU_GROUPS = ['业务', '分析', '数据', '管理'];

// pages the caller may open from the menu, by group, in the order listed above
export function menuFor(session) {
    const visible = pages.filter(p => p.menu && (!p.action || session.may(p.action)));
    return MENU_GROUPS.map(group => ({group, pages: visible.filter(p => p.menu === group)})).filter(g => g.pages.length);
}
